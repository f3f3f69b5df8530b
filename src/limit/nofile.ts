import { readFileSync } from 'node:fs';

/**
 * RLIMIT_NOFILE, and how many upstream sockets it leaves room for. Node has
 * no API for getrlimit; Linux shows the limits in /proc/self/limits (Node
 * raises the soft limit to the hard one at start, so this is read after).
 */

/** When the limit cannot be read (not Linux, /proc hidden): what every Linux starts a process with. */
export const FALLBACK_NOFILE = 1024;
/** Descriptors kept for everything but client connections and upstream sockets: listeners, HTTP, the approval link, files, Node itself. */
export const RESERVED_FDS = 256;
/** The bound never goes below this, so a tight limit still forwards (and `serve` warns). */
export const MIN_UPSTREAM_SOCKETS = 64;

/** The soft "Max open files" of this process, or null when it cannot be read. */
export function readOpenFileLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | null {
  let text: string;
  try {
    text = read();
  } catch {
    return null;
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  if (soft === undefined) return null;
  if (soft === 'unlimited') return Number.MAX_SAFE_INTEGER;
  const n = Number(soft);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

export interface SocketBound {
  readonly nofile: number;
  /** Where the fd limit came from, for the start-up log line. */
  readonly source: 'proc' | 'fallback';
  /** Upstream sockets allowed at once. */
  readonly upstreamSockets: number;
  /** The limit is too low for the configured TCP connections plus the reserve: raise it. */
  readonly tight: boolean;
}

/**
 * Upstream sockets = the fd limit − every TCP client connection the limits
 * allow (agents' and strangers') − RESERVED_FDS, at least MIN_UPSTREAM_SOCKETS.
 */
export function upstreamSocketBound(nofile: number | null, tcpConnections: number): SocketBound {
  const limit = nofile ?? FALLBACK_NOFILE;
  const room = limit - tcpConnections - RESERVED_FDS;
  return {
    nofile: limit,
    source: nofile === null ? 'fallback' : 'proc',
    upstreamSockets: Math.max(MIN_UPSTREAM_SOCKETS, Math.min(room, Number.MAX_SAFE_INTEGER)),
    tight: room < MIN_UPSTREAM_SOCKETS,
  };
}
