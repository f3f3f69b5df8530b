import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/errors.js';
import { errnoCode } from '../errors.js';
import { check } from './check.js';
import { explain } from './explain.js';
import { UsageError, type Io } from './io.js';
import { replay } from './replay.js';
import { serve } from './serve.js';
import { suggest } from './suggest.js';
import { tail } from './tail.js';
import { VERSION } from '../version.js';

interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, unknown>, io: Io): number | Promise<number>;
}

const COMMANDS: readonly Command[] = [serve, check, explain, suggest, replay, tail] as unknown as readonly Command[];


function mainHelp(): string {
  return [
    'intentdns: egress DNS filtering proxy for the subnets where AI agents run',
    '',
    'Usage: intentdns <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`),
    '',
    'Options: --help (also after a command), --version',
    'The config file is --config FILE, else $INTENTDNS_CONFIG, else config/intentdns.yaml.',
  ].join('\n');
}

/** Runs one CLI invocation and returns the exit code: 0 ok, 1 a failed check or fault, 2 a usage mistake. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(mainHelp());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    io.out(VERSION);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    io.err(`intentdns: unknown command "${first}"\n\n${mainHelp()}`);
    return 2;
  }
  try {
    const { values } = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.out(`${command.summary}\n\nUsage: ${command.usage}`);
      return 0;
    }
    return await command.run(values, io);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.format());
      return 1;
    }
    if (err instanceof UsageError || (err instanceof TypeError && errnoCode(err)?.startsWith('ERR_PARSE_ARGS') === true)) {
      io.err(`intentdns ${command.name}: ${(err as Error).message}\nUsage: ${command.usage}`);
      return 2;
    }
    throw err;
  }
}
