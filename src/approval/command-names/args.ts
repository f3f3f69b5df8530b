/**
 * A small getopt: separates a tool's options (and the values they consume)
 * from its operands. Knowing which options take a value is what keeps
 * `curl -o out.json URL` from reading `out.json` as a destination, so each
 * extractor lists the value-taking options of its tool.
 */

export interface FlagSpec {
  /** Short options that take a value: `-o FILE` or `-oFILE`. */
  readonly short?: string;
  /** Long options (without `--`) that take a value: `--output FILE` or `--output=FILE`. */
  readonly long?: readonly string[];
  /** Short options whose value can only be attached (`mysql -pSECRET`). */
  readonly attachedOnly?: string;
  /**
   * Stop at the first operand: everything from there on is an operand
   * (ssh, sudo, docker run: what follows belongs to another command).
   */
  readonly stopAtOperand?: boolean;
  /** Single-dash long options (`openssl s_client -connect h:443`). */
  readonly singleDashLong?: boolean;
}

export interface ParsedArgs {
  readonly operands: readonly string[];
  /** Each option that carried a value, by name without dashes (`o`, `output`), in order. */
  readonly values: readonly (readonly [name: string, value: string])[];
  /** Options seen without a value, by name without dashes. */
  readonly switches: ReadonlySet<string>;
}

export function parseArgs(args: readonly string[], spec: FlagSpec): ParsedArgs {
  const short = spec.short ?? '';
  const long = new Set(spec.long ?? []);
  const attachedOnly = spec.attachedOnly ?? '';
  const operands: string[] = [];
  const values: [string, string][] = [];
  const switches = new Set<string>();

  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (spec.stopAtOperand === true) {
        operands.push(...args.slice(i));
        break;
      }
      operands.push(arg);
      continue;
    }
    if (arg.startsWith('--') || spec.singleDashLong === true) {
      const body = arg.slice(arg.startsWith('--') ? 2 : 1);
      const eq = body.indexOf('=');
      if (eq >= 0) {
        values.push([body.slice(0, eq), body.slice(eq + 1)]);
      } else if (long.has(body) && i + 1 < args.length) {
        values.push([body, args[i + 1] as string]);
        i++;
      } else {
        switches.add(body);
      }
      continue;
    }
    // A cluster of short options: -fsSL, -qO-, -p2222, -avz.
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j] as string;
      if (attachedOnly.includes(flag)) {
        if (j + 1 < arg.length) values.push([flag, arg.slice(j + 1)]);
        else switches.add(flag);
        break;
      }
      if (short.includes(flag)) {
        if (j + 1 < arg.length) values.push([flag, arg.slice(j + 1)]);
        else if (i + 1 < args.length) values.push([flag, args[++i] as string]);
        break;
      }
      switches.add(flag);
    }
  }
  return { operands, values, switches };
}

/** Values of the named options, in order. */
export function valuesOf(parsed: ParsedArgs, ...names: readonly string[]): string[] {
  return parsed.values.filter(([name]) => names.includes(name)).map(([, value]) => value);
}

/** Whether any of the named options was given, with or without a value. */
export function has(parsed: ParsedArgs, ...names: readonly string[]): boolean {
  return names.some((n) => parsed.switches.has(n)) || parsed.values.some(([name]) => names.includes(name));
}
