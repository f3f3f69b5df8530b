import { parseHostPort } from '../address.js';
import { usableCpus } from '../cpus.js';
import { isScalar } from 'yaml';
import type { Section } from '../reader.js';
import type { Config, HostPort } from '../types.js';

const DEFAULT_DNS: HostPort = { host: '127.0.0.1', port: 5353, family: 4, text: '127.0.0.1:5353' };
const DEFAULT_HTTP: HostPort = { host: '127.0.0.1', port: 9153, family: 4, text: '127.0.0.1:9153' };

export const LISTEN_KEYS = ['dns', 'http', 'workers'] as const;

/** The most DNS worker processes: beyond the cores a machine has, more only add IPC and memory. */
export const MAX_WORKERS = 64;

/** `listen`: the DNS addresses (UDP and TCP each) and the one HTTP address, or `http: null` for none. */
export function readListen(sec: Section): Config['listen'] {
  const r = sec.reader;
  const dns: HostPort[] = [];
  const items = sec.has('dns') ? sec.list('dns') : undefined;
  if (items?.length === 0) r.report(sec.node('dns'), 'listen.dns: needs at least one address');
  items?.forEach((item, i) => {
    const hp = r.parse(item, `listen.dns[${i}]`, (t) => parseHostPort(t));
    if (hp === undefined) return;
    if (dns.some((d) => sameAddress(d, hp))) r.report(item, `listen.dns[${i}]: "${hp.text}" is listed twice`);
    else dns.push(hp);
  });
  if (!sec.has('dns')) dns.push(DEFAULT_DNS);

  const workers = readWorkers(sec);
  if (sec.isNull('http')) return { dns, http: null, workers };
  const http = sec.parse('http', DEFAULT_HTTP, (t) => parseHostPort(t));
  // DNS listens on TCP too, so the same address for both would fail to bind at start.
  if (dns.some((d) => sameAddress(d, http))) {
    const what = sec.has('http') ? '' : ' (the default)';
    r.report(sec.node('http') ?? sec.at, `listen.http: "${http.text}"${what} is also a listen.dns address`);
  }
  return { dns, http, workers };
}

/**
 * `listen.workers`: 1 (the default: one process, no IPC), a whole number up
 * to MAX_WORKERS, or `auto`, one per CPU this process may use: the cores its
 * affinity allows (taskset, a cgroup cpuset), capped by a CPU quota (a
 * container's CPU limit), see config/cpus.ts.
 */
function readWorkers(sec: Section): number {
  const n = sec.node('workers');
  if (n === undefined) return 1;
  if (isScalar(n) && n.value === 'auto') return Math.min(MAX_WORKERS, usableCpus());
  if (isScalar(n) && typeof n.value === 'number' && Number.isSafeInteger(n.value) && n.value >= 1 && n.value <= MAX_WORKERS) return n.value;
  sec.reader.report(n, `listen.workers: expected auto or a whole number from 1 to ${MAX_WORKERS}`);
  return 1;
}

export function sameAddress(a: HostPort, b: HostPort): boolean {
  return a.host === b.host && a.port === b.port;
}

/** The same addresses in the same order, however each was spelled (hosts are canonical already). */
export function sameAddresses(a: readonly HostPort[], b: readonly HostPort[]): boolean {
  return a.length === b.length && a.every((x, i) => b[i] !== undefined && sameAddress(x, b[i]));
}

/** The same HTTP address, or both off. */
export function sameHttp(a: HostPort | null, b: HostPort | null): boolean {
  return a === null || b === null ? a === b : sameAddress(a, b);
}
