import { readFileSync } from 'node:fs';

/**
 * The kernel's UDP receive error counters, read when Prometheus scrapes:
 * datagrams that never reached intentdns because a socket's receive buffer
 * was full (a flood the event loop could not keep up with). They count every
 * UDP socket of the host, or of the network namespace (a container, a pod),
 * not only ours: /proc/net/snmp has no per-socket figures.
 *
 *   /proc/net/snmp:  "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors ..." then a line of values
 *   /proc/net/snmp6: "Udp6InErrors 0", "Udp6RcvbufErrors 0", one per line
 */
export interface UdpReceiveErrors {
  /** All receive errors (RcvbufErrors included). */
  readonly in: number;
  /** Datagrams dropped for a full receive buffer. */
  readonly rcvbuf: number;
}

export type ReadFile = (path: string) => string;

const readText: ReadFile = (path) => readFileSync(path, 'utf8');

/** Per family, only those the kernel shows (nothing on a system without /proc). */
export function readUdpReceiveErrors(read: ReadFile = readText): { ipv4?: UdpReceiveErrors; ipv6?: UdpReceiveErrors } {
  const out: { ipv4?: UdpReceiveErrors; ipv6?: UdpReceiveErrors } = {};
  const v4 = tryRead(read, '/proc/net/snmp');
  if (v4 !== null) {
    const errors = parseSnmp(v4);
    if (errors) out.ipv4 = errors;
  }
  const v6 = tryRead(read, '/proc/net/snmp6');
  if (v6 !== null) {
    const errors = parseSnmp6(v6);
    if (errors) out.ipv6 = errors;
  }
  return out;
}

function tryRead(read: ReadFile, path: string): string | null {
  try {
    return read(path);
  } catch {
    return null;
  }
}

/** The "Udp:" header and value lines of /proc/net/snmp. */
export function parseSnmp(text: string): UdpReceiveErrors | null {
  const lines = text.split('\n').filter((l) => l.startsWith('Udp: '));
  if (lines.length < 2) return null;
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  const get = (name: string): number | undefined => {
    const v = values[names.indexOf(name)];
    return names.includes(name) && Number.isFinite(v) ? v : undefined;
  };
  const inErrors = get('InErrors');
  const rcvbuf = get('RcvbufErrors');
  return inErrors === undefined || rcvbuf === undefined ? null : { in: inErrors, rcvbuf };
}

/** "Udp6InErrors" and "Udp6RcvbufErrors" of /proc/net/snmp6. */
export function parseSnmp6(text: string): UdpReceiveErrors | null {
  const value = (name: string): number | undefined => {
    const m = new RegExp(`^${name}\\s+(\\d+)\\s*$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const inErrors = value('Udp6InErrors');
  const rcvbuf = value('Udp6RcvbufErrors');
  return inErrors === undefined || rcvbuf === undefined ? null : { in: inErrors, rcvbuf };
}
