/**
 * Just enough PromQL and Prometheus text format for the deploy tests: the
 * vector selectors an expression uses (metric name and label matchers), and
 * the metric names a scrape exposes. Syntax errors are promtool's job; this
 * only has to find the names in expressions promtool accepts.
 */

export interface Matcher {
  readonly label: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

export interface Selector {
  readonly name: string;
  readonly matchers: readonly Matcher[];
}

/** Aggregation operators: `sum by (x) (…)` has no "(" right after the name. */
const AGGREGATORS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
]);
/** Keywords followed by a label list in parentheses. */
const LABEL_LIST = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan']);

const IDENT_START = /[A-Za-z_:]/;
const IDENT = /[A-Za-z0-9_:]/;

/** Every vector selector in `expr`, in order. */
export function selectors(expr: string): Selector[] {
  const out: Selector[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < expr.length && /\s/.test(expr[i]!)) i++;
  };
  const skipString = (): string => {
    const quote = expr[i]!;
    let value = '';
    i++;
    while (i < expr.length && expr[i] !== quote) {
      if (expr[i] === '\\' && quote !== '`') i++;
      value += expr[i] ?? '';
      i++;
    }
    i++;
    return value;
  };
  const skipBalanced = (open: string, close: string): void => {
    let depth = 0;
    do {
      if (expr[i] === open) depth++;
      else if (expr[i] === close) depth--;
      i++;
    } while (i < expr.length && depth > 0);
  };

  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      skipString();
    } else if (c === '[') {
      skipBalanced('[', ']');
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (/[0-9.]/.test(c)) {
      // A number or a duration (5m, 1h30m, 1e3, 0x1f).
      while (i < expr.length && /[0-9A-Za-z.]/.test(expr[i]!)) i++;
    } else if (IDENT_START.test(c)) {
      const start = i;
      while (i < expr.length && IDENT.test(expr[i]!)) i++;
      const ident = expr.slice(start, i);
      skipSpace();
      const next = expr[i];
      if (LABEL_LIST.has(ident)) {
        if (next === '(') skipBalanced('(', ')');
        continue;
      }
      if (next === '(') continue; // a function or an aggregation
      if (AGGREGATORS.has(ident) && /^(by|without)\b/.test(expr.slice(i))) continue;
      if (KEYWORDS.has(ident.toLowerCase())) continue;
      const matchers: Matcher[] = [];
      if (next === '{') {
        i++;
        for (;;) {
          skipSpace();
          if (i >= expr.length || expr[i] === '}') break;
          const ls = i;
          while (i < expr.length && IDENT.test(expr[i]!)) i++;
          const label = expr.slice(ls, i);
          skipSpace();
          const op = (['=~', '!~', '!=', '='] as const).find((o) => expr.startsWith(o, i));
          if (!op || label === '') throw new Error(`cannot read the matchers of ${ident} in: ${expr}`);
          i += op.length;
          skipSpace();
          const value = skipString();
          matchers.push({ label, op, value });
          skipSpace();
          if (expr[i] === ',') i++;
        }
        i++;
      }
      out.push({ name: ident, matchers });
    } else {
      i++;
    }
  }
  return out;
}

export interface Exposition {
  /** Every name a query can select: sample names, plus _bucket/_sum/_count of histograms and summaries. */
  readonly names: Set<string>;
  /** Label names seen on the samples of each sample name. */
  readonly labels: Map<string, Set<string>>;
  /** Label values seen per `name\0label`. */
  readonly values: Map<string, Set<string>>;
}

/** Reads a Prometheus text exposition (version 0.0.4). */
export function parseExposition(text: string): Exposition {
  const names = new Set<string>();
  const labels = new Map<string, Set<string>>();
  const values = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string];
      names.add(name);
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      if (kind === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const name = sample[1]!;
    names.add(name);
    const seen = labels.get(name) ?? new Set<string>();
    labels.set(name, seen);
    for (const m of (sample[3] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      seen.add(m[1]!);
      const key = `${name}\0${m[1]!}`;
      const vs = values.get(key) ?? new Set<string>();
      vs.add(m[2]!);
      values.set(key, vs);
    }
  }
  return { names, labels, values };
}

/** The metric a histogram series belongs to: `x_bucket`, `x_sum`, `x_count` → `x`. */
export function baseName(name: string, exposition: Exposition): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (exposition.names.has(`${base}_bucket`) || exposition.names.has(`${base}_sum`)) return base;
    }
  }
  return name;
}

/**
 * Whether a matcher's value can only ever match values from `allowed`, and
 * matches at least one of them: plain values must be members; a regex that
 * is an alternation of literals must name members only; any other regex must
 * match at least one member. Returns the offending value, or null.
 */
export function strayValue(m: Matcher, allowed: readonly string[]): string | null {
  if (m.op === '=' || m.op === '!=') return allowed.includes(m.value) ? null : m.value;
  if (/^[A-Za-z0-9_.]+(\|[A-Za-z0-9_.]+)*$/.test(m.value)) {
    return m.value.split('|').find((v) => !allowed.includes(v)) ?? null;
  }
  const re = new RegExp(`^(?:${m.value})$`);
  return allowed.some((v) => re.test(v)) ? null : m.value;
}
