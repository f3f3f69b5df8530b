#!/usr/bin/env node
import { exitQuietlyWhenStdoutCloses, processIo } from './cli/io.js';
import { run } from './cli/run.js';

exitQuietlyWhenStdoutCloses();

try {
  process.exitCode = await run(process.argv.slice(2), processIo);
} catch (err) {
  process.stderr.write(`intentdns: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
