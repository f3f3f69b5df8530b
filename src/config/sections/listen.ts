import { parseHostPort } from '../address.js';
import type { Section } from '../reader.js';
import type { Config, HostPort } from '../types.js';

const DEFAULT_DNS: HostPort = { host: '127.0.0.1', port: 5353, family: 4, text: '127.0.0.1:5353' };
const DEFAULT_HTTP: HostPort = { host: '127.0.0.1', port: 9153, family: 4, text: '127.0.0.1:9153' };

export const LISTEN_KEYS = ['dns', 'http'] as const;

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

  if (sec.isNull('http')) return { dns, http: null };
  const http = sec.parse('http', DEFAULT_HTTP, (t) => parseHostPort(t));
  // DNS listens on TCP too, so the same address for both would fail to bind at start.
  if (dns.some((d) => sameAddress(d, http))) {
    const what = sec.has('http') ? '' : ' (the default)';
    r.report(sec.node('http') ?? sec.at, `listen.http: "${http.text}"${what} is also a listen.dns address`);
  }
  return { dns, http };
}

export function sameAddress(a: HostPort, b: HostPort): boolean {
  return a.host === b.host && a.port === b.port;
}
