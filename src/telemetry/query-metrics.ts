/**
 * The two metrics recorded on every query, kept as plain numbers and turned
 * into Prometheus series only when scraped. prom-client's own Counter and
 * Histogram hash their labels on every call, even through a cached child,
 * which cost about 0.4 µs per query (npm run bench); these cost a map lookup
 * and a few additions. Registered in a prom-client Registry like any metric:
 * the registry only needs name, help, type and get().
 */

interface Series {
  readonly labels: Record<string, string>;
  value: number;
}

/**
 * A counter whose series the caller keys by a group (a string the config
 * already holds, e.g. the role, whose hash the string keeps) and a key within
 * it (a number made of label indexes, or a short string), so counting a query
 * joins no strings and allocates nothing:
 *
 *   if (!counter.add(role, key)) counter.create(role, key, { role, action, … });
 */
export class KeyedCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #groups = new Map<string, Map<number | string, Series>>();

  constructor(readonly name: string, readonly help: string) {}

  /** Adds one to the series, or returns false when there is none yet (then `create` it). */
  add(group: string, key: number | string): boolean {
    const series = this.#groups.get(group)?.get(key);
    if (series === undefined) return false;
    series.value++;
    return true;
  }

  /** A new series, counted once: `labels` are what the scrape shows for it. */
  create(group: string, key: number | string, labels: Record<string, string>): void {
    let series = this.#groups.get(group);
    if (series === undefined) this.#groups.set(group, (series = new Map()));
    series.set(key, { labels, value: 1 });
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string>; value: number }> } {
    const values: Array<{ labels: Record<string, string>; value: number }> = [];
    for (const group of this.#groups.values()) for (const s of group.values()) values.push({ labels: s.labels, value: s.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

interface Buckets {
  readonly counts: Float64Array;   // per bucket, not cumulative; the last one is +Inf
  sum: number;
  count: number;
}

/** A histogram with one label, whose buckets are counted per observation and summed up per scrape. */
export class LabelledHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #byLabel = new Map<string, Buckets>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly buckets: readonly number[],
  ) {}

  observe(label: string, value: number): void {
    let b = this.#byLabel.get(label);
    if (!b) this.#byLabel.set(label, (b = { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 }));
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]!) i++;
    b.counts[i]!++;
    b.sum += value;
    b.count++;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const [label, b] of this.#byLabel) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += b.counts[i]!;
        const le = i < this.buckets.length ? this.buckets[i]! : '+Inf';
        values.push({ labels: { le, [this.labelName]: label }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { [this.labelName]: label }, value: b.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: b.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
