/**
 * Language interpreters. A script file is opaque (`python setup.py install`,
 * `node index.js` give nothing). Inline code (`python -c`, `node -e`) is read
 * for URL literals only: a URL written into code the reviewer approved is what
 * that code fetches, while bare words in code are identifiers. `python -m pip`
 * is pip.
 */
import { pip } from './packages.js';
import { urlHosts } from './targets.js';
import type { Extractor, ExtractorTable } from './sink.js';

interface Interpreter {
  /** Options whose value is code to run. */
  readonly code: readonly string[];
  /** Other options that take a value (so it is not read as the script). */
  readonly valued: readonly string[];
  /** Options whose value is a module to run, with the remaining arguments (python -m). */
  readonly module?: readonly string[];
}

function interpreter(i: Interpreter): Extractor {
  return (args, sink) => {
    for (let n = 0; n < args.length; n++) {
      const arg = args[n] as string;
      const name = arg.includes('=') && arg.startsWith('--') ? (arg.split('=')[0] as string) : arg;
      const attached = name !== arg ? arg.slice(name.length + 1) : undefined;
      const value = attached ?? args[n + 1];
      if (i.code.includes(name)) {
        if (value !== undefined) sink.hosts(urlHosts(value));
        if (attached === undefined) n++;
        continue;
      }
      if (i.module?.includes(name)) {
        if (value === 'pip') pip(args.slice(n + 2), sink);
        return;                                   // the rest are the module's arguments
      }
      if (i.valued.includes(name)) {
        if (attached === undefined) n++;
        continue;
      }
      if (arg === '--' || !arg.startsWith('-')) return;   // a script file (or stdin): opaque
    }
  };
}

const python = interpreter({ code: ['-c'], valued: ['-W', '-X', '--check-hash-based-pycs'], module: ['-m'] });

const node = interpreter({
  code: ['-e', '--eval', '-p', '--print'],
  valued: ['-r', '--require', '--import', '--loader', '--experimental-loader', '--input-type', '-C', '--conditions', '--env-file', '--title'],
});

export const INTERPRETERS: ExtractorTable = {
  python,
  python3: python,
  py: python,
  pypy: python,
  pypy3: python,
  node,
  nodejs: node,
  ruby: interpreter({ code: ['-e'], valued: ['-r', '-I', '-C', '-E', '--encoding'] }),
  perl: interpreter({ code: ['-e', '-E'], valued: ['-I', '-M', '-m'] }),
  php: interpreter({ code: ['-r'], valued: ['-c', '-d', '-f', '-z'] }),
};
