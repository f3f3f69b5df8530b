import { execFile, spawn } from 'node:child_process';
import { errnoCode } from '../errors.js';
import { NftError } from './errors.js';

/** Longest one nft run may take before it is killed: a hung nft must not hold every later batch. */
export const NFT_RUN_TIMEOUT_MS = 10_000;

/** Bound on the stderr kept from one run (nft echoes the failing line; that is all we need). */
const MAX_STDERR = 8192;

/** Runs one nft script as one transaction. */
export type NftRunner = (script: string) => Promise<void>;

/**
 * An NftRunner that starts `<command> -f -` and feeds it the script on stdin:
 * nft applies a file as one transaction (all of it or none), and reports a
 * rejected batch on stderr with a non-zero exit. `command` is ["nft"] in
 * production; tests run it inside a network namespace (["ip", "netns",
 * "exec", ns, "nft"]).
 */
export function nftRunner(command: readonly string[], timeoutMs = NFT_RUN_TIMEOUT_MS): NftRunner {
  const [file, ...args] = command;
  if (file === undefined) throw new TypeError('nft command is empty');
  return (script) => new Promise<void>((resolve, reject) => {
    const child = spawn(file, [...args, '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    let settled = false;
    const settle = (err: NftError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(new NftError('nft_timeout', `nft did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr += chunk.slice(0, MAX_STDERR - stderr.length);
    });
    child.on('error', (err) => {
      if (errnoCode(err) === 'ENOENT') settle(new NftError('nft_missing', `${file}: not found on PATH (install nftables)`, { cause: err }));
      else settle(new NftError('nft_failed', `${file}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      if (code === 0) return settle(null);
      const text = stderr.trim() || `exit ${code ?? signal}`;
      // "Operation not permitted" is the kernel refusing the netlink request: no CAP_NET_ADMIN.
      if (/Operation not permitted|Permission denied/i.test(text)) {
        return settle(new NftError('permission', `nft: permission denied (intentdns needs CAP_NET_ADMIN): ${text}`));
      }
      // ip netns exec reports a missing nft in its own words.
      if (/No such file or directory/.test(text) && /exec/.test(text)) {
        return settle(new NftError('nft_missing', `nft not found: ${text}`));
      }
      settle(new NftError('nft_failed', `nft rejected the batch: ${text}`));
    });
    // A child that dies before reading everything closes stdin under us: the close event reports it.
    child.stdin.on('error', () => {});
    child.stdin.end(script);
  });
}

/** Runs `<command> <args>` and gives its stdout, e.g. `-j list table inet T`. */
export type NftReader = (args: readonly string[]) => Promise<string>;

export function nftReader(command: readonly string[], timeoutMs = NFT_RUN_TIMEOUT_MS): NftReader {
  const [file, ...base] = command;
  if (file === undefined) throw new TypeError('nft command is empty');
  return (args) => new Promise<string>((resolve, reject) => {
    execFile(file, [...base, ...args], { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new NftError(errnoCode(err) === 'ENOENT' ? 'nft_missing' : 'nft_failed', `${file}: ${String(stderr).trim() || err.message}`, { cause: err }));
      else resolve(stdout);
    });
  });
}
