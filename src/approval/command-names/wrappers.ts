/**
 * Programs that run another command: the names are those of the command they
 * run, so each one strips its own options and hands the rest back to the
 * walker (`sudo -E bash -c '…'`, `timeout 30 curl …`, `xargs -n1 curl -O`).
 * Also the programs whose arguments are only ever text.
 */
import { has, parseArgs, valuesOf } from './args.js';
import { readsNothing, type Extractor, type ExtractorTable } from './sink.js';

/** A wrapper whose options end at the first operand, which starts the command. */
function runs(short: string, long: readonly string[] = [], skipOperands = 0): Extractor {
  return (args, sink) => {
    const p = parseArgs(args, { short, long, stopAtOperand: true });
    sink.command(p.operands.slice(skipOperands));
  };
}

const sudo: Extractor = (args, sink) => {
  const p = parseArgs(args, {
    short: 'CDgpRrTtUu',
    long: ['chdir', 'chroot', 'close-from', 'group', 'prompt', 'role', 'type', 'command-timeout', 'other-user', 'user'],
    stopAtOperand: true,
  });
  // sudo -e edits files; -l/-v/-k only manage credentials or list rights.
  if (has(p, 'e', 'edit', 'l', 'list', 'v', 'validate', 'k', 'K')) return;
  sink.command(p.operands);
};

const env: Extractor = (args, sink) => {
  const p = parseArgs(args, {
    short: 'uCS',
    long: ['unset', 'chdir', 'split-string', 'default-signal', 'ignore-signal', 'block-signal'],
    stopAtOperand: true,
  });
  const split = valuesOf(p, 'S', 'split-string');
  // -S splits its string into words as a shell would: a script of its own.
  if (split.length > 0) sink.script([...split, ...p.operands].join(' '));
  else sink.command(p.operands);     // the walker takes the leading NAME=value words
};

const shell: Extractor = (args, sink) => {
  // `+o opt` / `+x` turn options off; they carry no command.
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '+o' || a === '+O') i++;
    else if (!/^\+[A-Za-z]+$/.test(a)) kept.push(a);
  }
  const p = parseArgs(kept, { short: 'oO', long: ['rcfile', 'init-file'], stopAtOperand: true });
  // Only -c gives a command we can read; a script file or stdin is unknown.
  const script = p.operands[0];
  if (p.switches.has('c') && script !== undefined) sink.script(script);
};

const xargs: Extractor = (args, sink) => {
  const p = parseArgs(args, {
    short: 'aEdILnPs',
    attachedOnly: 'iel',
    long: ['arg-file', 'delimiter', 'max-args', 'max-procs', 'max-chars', 'process-slot-var'],
    stopAtOperand: true,
  });
  // The arguments xargs appends come from stdin and are unknown.
  sink.command(p.operands);
};

const command: Extractor = (args, sink) => {
  const p = parseArgs(args, { stopAtOperand: true });
  if (has(p, 'v', 'V')) return;                 // a lookup, nothing runs
  sink.command(p.operands);
};

const watch: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'nq', long: ['interval', 'differences'], stopAtOperand: true });
  // watch joins its operands and runs them with `sh -c`, unless -x (exec).
  if (has(p, 'x', 'exec')) sink.command(p.operands);
  else sink.script(p.operands.join(' '));
};

const evalScript: Extractor = (args, sink) => sink.script(args.join(' '));

export const WRAPPERS: ExtractorTable = {
  sudo,
  doas: runs('Cu'),
  env,
  time: runs('fo', ['format', 'output']),
  nohup: runs(''),
  nice: runs('n', ['adjustment']),
  ionice: runs('cnp', ['class', 'classdata', 'pid', 'pgid', 'uid']),
  timeout: runs('sk', ['signal', 'kill-after'], 1),   // first operand is the duration
  stdbuf: runs('ioe', ['input', 'output', 'error']),
  exec: runs('a'),
  builtin: runs(''),
  command,
  xargs,
  watch,
  eval: evalScript,
  bash: shell,
  sh: shell,
  zsh: shell,
  dash: shell,
  ksh: shell,
  ash: shell,

  // Arguments are text or patterns: a URL in `echo`/`grep` is not contacted.
  echo: readsNothing,
  printf: readsNothing,
  grep: readsNothing,
  egrep: readsNothing,
  fgrep: readsNothing,
  rg: readsNothing,
  ag: readsNothing,
  sed: readsNothing,
  awk: readsNothing,
  gawk: readsNothing,
  mawk: readsNothing,
  test: readsNothing,
  '[': readsNothing,
  '[[': readsNothing,
  ':': readsNothing,
  true: readsNothing,
  false: readsNothing,
};
