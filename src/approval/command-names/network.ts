/**
 * Network clients: HTTP downloaders, the ssh family, raw sockets and DNS
 * tools. Each reads its destination from the positions the tool itself reads
 * one from; values of options that take files, headers, data or credentials
 * (`-o out.json`, `-H 'Origin: https://…'`, `-d @body.json`, `-u user:pw`)
 * are skipped, so they never become names.
 */
import { has, parseArgs, valuesOf, type FlagSpec, type ParsedArgs } from './args.js';
import { hostPortList, scpHost, sshHost, urlOrBareHost } from './targets.js';
import type { Extractor, ExtractorTable, Sink } from './sink.js';

// ---- HTTP -------------------------------------------------------------------

const CURL: FlagSpec = {
  short: 'AbcCdDeEFHKmoPQrtTuUwxXyYz',
  long: ['abstract-unix-socket', 'alt-svc', 'aws-sigv4', 'cacert', 'capath', 'cert', 'cert-type', 'ciphers',
    'config', 'connect-timeout', 'connect-to', 'continue-at', 'cookie', 'cookie-jar', 'create-file-mode',
    'crlfile', 'curves', 'data', 'data-ascii', 'data-binary', 'data-raw', 'data-urlencode', 'delegation',
    'dns-interface', 'dns-ipv4-addr', 'dns-ipv6-addr', 'dns-servers', 'doh-url', 'dump-header', 'ech',
    'egd-file', 'engine', 'etag-compare', 'etag-save', 'expect100-timeout', 'form', 'form-string',
    'ftp-account', 'ftp-alternative-to-user', 'ftp-method', 'ftp-port', 'ftp-ssl-ccc-mode',
    'happy-eyeballs-timeout-ms', 'haproxy-clientip', 'header', 'hostpubmd5', 'hostpubsha256', 'hsts',
    'interface', 'ip-tos', 'ipfs-gateway', 'json', 'keepalive-cnt', 'keepalive-time', 'key', 'key-type', 'krb',
    'libcurl', 'limit-rate', 'local-port', 'login-options', 'mail-auth', 'mail-from', 'mail-rcpt',
    'max-filesize', 'max-redirs', 'max-time', 'netrc-file', 'noproxy', 'oauth2-bearer', 'output', 'output-dir',
    'parallel-max', 'pass', 'pinnedpubkey', 'preproxy', 'proto', 'proto-default', 'proto-redir', 'proxy',
    'proxy-cacert', 'proxy-capath', 'proxy-cert', 'proxy-cert-type', 'proxy-ciphers', 'proxy-crlfile',
    'proxy-header', 'proxy-key', 'proxy-key-type', 'proxy-pass', 'proxy-pinnedpubkey', 'proxy-service-name',
    'proxy-tls13-ciphers', 'proxy-tlsauthtype', 'proxy-tlspassword', 'proxy-tlsuser', 'proxy-user', 'proxy1.0',
    'pubkey', 'quote', 'random-file', 'range', 'rate', 'referer', 'request', 'request-target', 'resolve',
    'retry', 'retry-delay', 'retry-max-time', 'sasl-authzid', 'service-name', 'socks4', 'socks4a', 'socks5',
    'socks5-gssapi-service', 'socks5-hostname', 'speed-limit', 'speed-time', 'stderr', 'telnet-option',
    'tftp-blksize', 'time-cond', 'tls-max', 'tls13-ciphers', 'tlsauthtype', 'tlspassword', 'tlsuser', 'trace',
    'trace-ascii', 'trace-config', 'unix-socket', 'upload-file', 'upload-flags', 'url', 'url-query', 'user',
    'user-agent', 'variable', 'vlan-priority', 'write-out'],
};

/**
 * curl: every URL operand (scheme-less `host/path` too: curl assumes http),
 * `--url`, the proxies it connects to, and the HOST2 of `--connect-to`, which
 * curl resolves instead of the URL's host. `--resolve` supplies an address and
 * resolves nothing.
 */
const curl: Extractor = (args, sink) => {
  const p = parseArgs(args, CURL);
  for (const operand of [...p.operands, ...valuesOf(p, 'url')]) sink.hosts(urlOrBareHost(operand));
  for (const proxy of valuesOf(p, 'x', 'proxy', 'preproxy', 'socks4', 'socks4a', 'socks5', 'socks5-hostname')) {
    sink.hosts(urlOrBareHost(proxy));
  }
  sink.urls(valuesOf(p, 'doh-url'));
  for (const spec of valuesOf(p, 'connect-to')) {
    const host2 = spec.split(':')[2];
    if (host2 !== undefined && host2.length > 0) sink.hosts([host2]);
  }
};

const WGET: FlagSpec = {
  short: 'aABDeiIlOoPQRtTUwX',
  long: ['output-file', 'append-output', 'execute', 'input-file', 'base', 'config', 'bind-address', 'tries',
    'output-document', 'backups', 'timeout', 'dns-timeout', 'connect-timeout', 'read-timeout', 'limit-rate',
    'wait', 'waitretry', 'quota', 'user', 'password', 'http-user', 'http-password', 'proxy-user',
    'proxy-password', 'header', 'max-redirect', 'load-cookies', 'save-cookies', 'post-data', 'post-file',
    'body-data', 'body-file', 'method', 'referer', 'user-agent', 'secure-protocol', 'certificate',
    'certificate-type', 'private-key', 'private-key-type', 'ca-certificate', 'ca-directory', 'crl-file',
    'pinnedpubkey', 'random-file', 'egd-file', 'hsts-file', 'warc-file', 'directory-prefix', 'cut-dirs',
    'default-page', 'level', 'accept', 'reject', 'accept-regex', 'reject-regex', 'domains', 'exclude-domains',
    'include-directories', 'exclude-directories', 'progress', 'restrict-file-names', 'local-encoding',
    'remote-encoding', 'regex-type', 'prefer-family', 'report-speed', 'use-askpass'],
};

/**
 * wget: URL operands (scheme-less too), and a proxy set with
 * `-e https_proxy=host:port`. `-i list.txt` URLs are in a file: unknown.
 */
const wget: Extractor = (args, sink) => {
  const p = parseArgs(args, WGET);
  for (const operand of p.operands) sink.hosts(urlOrBareHost(operand));
  for (const command of valuesOf(p, 'e', 'execute')) {
    const proxy = /^\s*(?:https?|ftp)_proxy\s*=\s*(\S+)\s*$/i.exec(command);
    if (proxy !== null) sink.hosts(urlOrBareHost(proxy[1] as string));
  }
};

/** httpie / xh: `http [METHOD] URL [items…]`; the items are headers and data. */
const httpie: Extractor = (args, sink) => {
  const p = parseArgs(args, {
    short: 'aAopsP',
    long: ['auth', 'auth-type', 'output', 'print', 'style', 'session', 'session-read-only', 'verify', 'cert',
      'cert-key', 'cert-key-pass', 'pretty', 'timeout', 'max-redirects', 'ssl', 'ciphers', 'format-options',
      'default-scheme', 'boundary', 'response-charset', 'response-mime', 'history-print', 'proxy'],
  });
  const [first, second] = p.operands;
  const url = first !== undefined && /^[A-Z]+$/.test(first) ? second : first;
  if (url !== undefined) sink.hosts(urlOrBareHost(url));
  sink.urls(valuesOf(p, 'proxy'));
};

// ---- ssh family -------------------------------------------------------------

/** Jump hosts and ssh `-o` settings that name a host this machine connects to. */
function sshOptions(p: ParsedArgs, sink: Sink): void {
  for (const jump of valuesOf(p, 'J')) sink.hosts(hostPortList(jump));
  for (const option of valuesOf(p, 'o')) {
    const m = /^\s*([A-Za-z]+)\s*[=\s]\s*(.*)$/.exec(option);
    if (m === null) continue;
    const key = (m[1] as string).toLowerCase();
    const value = m[2] as string;
    if (key === 'proxyjump') sink.hosts(hostPortList(value));
    else if (key === 'hostname') sink.hosts([value]);
    else if (key === 'proxycommand') sink.script(value);
  }
}

/** ssh: the destination. The remote command runs, and resolves, over there. */
const ssh: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'BbcDEeFIiJLlmOoPpQRSWw', stopAtOperand: true });
  sshOptions(p, sink);
  const destination = p.operands[0];
  if (destination !== undefined && !has(p, 'Q', 'V')) sink.hosts(sshHost(destination));
};

/**
 * scp and rsync: every operand in `[user@]host:path` form (the others are
 * local). rsync's remote shell (`-e 'ssh -J bastion.example.com'`) is read as
 * a command, for the jump hosts it names.
 */
function copier(spec: FlagSpec, rshVariable?: string): Extractor {
  return (args, sink) => {
    const p = parseArgs(args, spec);
    sshOptions(p, sink);
    const rsh = [...valuesOf(p, 'e', 'rsh'), rshVariable !== undefined ? sink.env.get(rshVariable) : undefined];
    for (const command of rsh) if (command !== undefined) sink.script(command);
    for (const operand of p.operands) sink.hosts(scpHost(operand));
  };
}

const RSYNC: FlagSpec = {
  short: 'efTBM',
  long: ['rsh', 'filter', 'exclude', 'include', 'exclude-from', 'include-from', 'files-from', 'temp-dir',
    'compare-dest', 'copy-dest', 'link-dest', 'backup-dir', 'suffix', 'chmod', 'chown', 'usermap', 'groupmap',
    'timeout', 'contimeout', 'port', 'bwlimit', 'log-file', 'log-file-format', 'out-format', 'password-file',
    'block-size', 'max-size', 'min-size', 'max-delete', 'partial-dir', 'rsync-path', 'sockopts', 'protocol',
    'iconv', 'checksum-choice', 'compress-choice', 'compress-level', 'skip-compress', 'info', 'debug',
    'remote-option', 'modify-window', 'write-batch', 'read-batch', 'only-write-batch', 'outbuf', 'stop-after',
    'stop-at', 'address', 'config'],
};

const sftp: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'BbcDFiJlopPRSsX', stopAtOperand: true });
  sshOptions(p, sink);
  const destination = p.operands[0];
  if (destination === undefined) return;
  sink.hosts(destination.includes(':') ? scpHost(destination) : sshHost(destination));
};

const sshKeyscan: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'fpTtO' });
  for (const operand of p.operands) sink.hosts(hostPortList(operand));
};

/** mosh: an ssh destination; the command after it runs remotely. */
const mosh: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'p', long: ['ssh', 'port', 'server', 'client', 'predict', 'family', 'bind-server', 'experimental-remote-ip'], stopAtOperand: true });
  const destination = p.operands[0];
  if (destination !== undefined) sink.hosts(sshHost(destination));
};

const sshCopyId: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'iopFt', stopAtOperand: true });
  sshOptions(p, sink);
  const destination = p.operands[0];
  if (destination !== undefined) sink.hosts(sshHost(destination));
};

// ---- sockets and DNS ----------------------------------------------------------

/** nc/ncat/telnet: `host port`. A listener (`nc -l`) names a local address, not a peer. */
function connector(short: string): Extractor {
  return (args, sink) => {
    const p = parseArgs(args, { short, long: ['proxy', 'exec', 'sh-exec', 'lua-exec', 'output', 'hex-dump', 'source', 'wait'] });
    if (has(p, 'l', 'listen')) return;
    const host = p.operands[0];
    if (host !== undefined) sink.hosts([host]);
  };
}

/** ping/traceroute/mtr: every operand left after the options is a destination. */
function prober(short: string): Extractor {
  return (args, sink) => sink.hosts(parseArgs(args, { short }).operands);
}

/** dig: `@server`, the query names, and `-q name`; `+options`, types and classes are not names. */
const dig: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'bcfkpqtxy' });
  for (const operand of p.operands) {
    if (operand.startsWith('+')) continue;
    sink.hosts([operand.startsWith('@') ? operand.slice(1) : operand]);
  }
  sink.hosts(valuesOf(p, 'q'));
};

/** host / nslookup: `name [server]`. */
function lookup(spec: FlagSpec): Extractor {
  return (args, sink) => sink.hosts(parseArgs(args, spec).operands.slice(0, 2));
}

/** openssl s_client connects to `-connect host:port` (or a host:port operand in 3.x). */
const openssl: Extractor = (args, sink) => {
  if (args[0] !== 's_client') return;
  const p = parseArgs(args.slice(1), {
    singleDashLong: true,
    long: ['connect', 'proxy', 'host', 'port', 'servername', 'CAfile', 'CApath', 'cert', 'key', 'certform', 'keyform',
      'pass', 'verify', 'starttls', 'xmpphost', 'name', 'sess_out', 'sess_in', 'cipher', 'ciphersuites', 'curves',
      'groups', 'sigalgs', 'alpn', 'nextprotoneg', 'msgfile', 'keylogfile', 'psk', 'psk_identity', 'bind', 'unix',
      'chainCAfile', 'verifyCAfile', 'cert_chain', 'dane_tlsa_domain', 'dane_tlsa_rrdata', 'verify_hostname'],
  });
  for (const target of [...valuesOf(p, 'connect', 'proxy', 'host'), ...p.operands]) sink.hosts(hostPortList(target));
};

export const NETWORK_TOOLS: ExtractorTable = {
  curl,
  wget,
  http: httpie,
  https: httpie,
  xh: httpie,
  xhs: httpie,
  ssh,
  scp: copier({ short: 'cDFiJloPSX', stopAtOperand: false }),
  rsync: copier(RSYNC, 'RSYNC_RSH'),
  sftp,
  'ssh-keyscan': sshKeyscan,
  'ssh-copy-id': sshCopyId,
  mosh,
  nc: connector('cdeGgIiMmOoPpqsTVwXx'),
  ncat: connector('cdeGgIiMmOoPpqsTVwXx'),
  netcat: connector('cdeGgIiMmOoPpqsTVwXx'),
  telnet: connector('beklnSX'),
  ping: prober('ceFiIlmMpQsStTwW'),
  ping6: prober('ceFiIlmMpQsStTwW'),
  traceroute: prober('AfgiImNpqstwz'),
  traceroute6: prober('AfgiImNpqstwz'),
  tracepath: prober('lmp'),
  mtr: prober('aBcfGiImMPQsuYZ'),
  dig,
  host: lookup({ short: 'cNRtWm' }),
  nslookup: lookup({ singleDashLong: true }),
  openssl,
};
