/**
 * The parse worker's entry (see parse-worker.ts): parses and validates the
 * bytes it is given, posts one ParseReply, and ends. Never imported: run by
 * `new Worker` only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from './errors.js';
import { loadConfig, parseConfig, type LoadOptions } from './load.js';
import { packConfig } from './packed.js';
import type { ParseReply, ParseRequest } from './parse-worker.js';

const request = workerData as ParseRequest;
const opts: LoadOptions = request.resolvConf === null ? {} : { resolvConf: request.resolvConf };
let reply: ParseReply;
let transfer: ArrayBuffer[] = [];
try {
  // No bytes: the file could not be read; loadConfig tries again and says why, as an in-thread reload would.
  const config = request.bytes === null
    ? loadConfig(request.file, opts)
    : parseConfig(Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength).toString('utf8'), request.file, opts);
  const packed = packConfig(config);
  reply = { kind: 'config', config: packed.config };
  transfer = packed.transfer;
} catch (err) {
  reply = err instanceof ConfigError
    ? { kind: 'invalid', issues: err.issues }
    : { kind: 'fault', name: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack ?? null : null };
}
parentPort!.postMessage(reply, transfer);
