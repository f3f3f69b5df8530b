/**
 * What `serve` says when it cannot start. A supervisor (systemd, Kubernetes)
 * shows the last log line, so that line must say what to change, not only
 * what failed: one JSON line with `err` (what failed), `msg` and, where the
 * cause is a known one, `hint` (what to do about it).
 */
import { errnoCode } from '../errors.js';
import { FirewallStartError } from '../firewall/index.js';
import { HttpListenError } from '../http/index.js';
import { ListenError } from '../receive/index.js';

export interface StartFailure {
  readonly err: string;
  readonly code?: string;
  readonly hint?: string;
}

/** The fields of the `not starting` line for an error thrown by Server.listen(). */
export function startFailure(err: unknown): StartFailure {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof ListenError || err instanceof HttpListenError ? err.systemCode ?? undefined : errnoCode(err);
  const hint = hintFor(err, code);
  return { err: message, ...(code !== undefined && { code }), ...(hint !== undefined && { hint }) };
}

function hintFor(err: unknown, code: string | undefined): string | undefined {
  if (err instanceof FirewallStartError) {
    return 'nft must be on PATH and intentdns needs CAP_NET_ADMIN; or set firewall.on_error: open to serve without the sets';
  }
  if (!(err instanceof ListenError || err instanceof HttpListenError)) return undefined;
  const what = err instanceof ListenError ? 'listen.dns' : 'listen.http';
  switch (code) {
    case 'EACCES':
      return `${err.address}: needs CAP_NET_BIND_SERVICE or a port above 1023 (${what})`;
    case 'EADDRINUSE':
      return `another process listens on ${err.address}: stop it or change ${what}`;
    case 'EADDRNOTAVAIL':
      return `no interface has the address of ${err.address}: change ${what}`;
    default:
      return undefined;
  }
}
