/**
 * Pure readers for the shapes a host takes inside one argument: URLs,
 * scp-style `user@host:path`, ssh destinations, `host:port`, scheme-less URLs
 * and container image references. They return raw candidates; whether a
 * candidate is a name at all is host-names.ts's call.
 */

/**
 * A URL starts where a scheme starts a word or follows a non-scheme character
 * (`--url=https://…`, `jdbc:postgresql://…`, `a,https://…`). Group 2 is the
 * authority (up to the first `/ ? #`), group 3 the rest of the URL, which runs
 * to whitespace, a quote or a backslash (a URL inside code ends at its quote).
 */
const URL_AT = /(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#\s"'<>\\`]*)([^\s"'<>\\`]*)/g;

/**
 * Schemes whose authority is not a host the client resolves: local sockets and
 * files, and object-store buckets (`s3://logs.example.com/` names a bucket; the
 * CLI talks to its provider's endpoint, which a preset or rule covers).
 */
const NOT_A_HOST = new Set(['file', 'unix', 'npipe', 's3', 's3a', 's3n', 'gs', 'az', 'abfs', 'abfss', 'wasb', 'wasbs']);

/**
 * Host candidates of the `scheme://authority` URLs in `text`. A URL inside
 * another URL's path or query (`https://a.example/login?next=https://b.example/`)
 * is data the first one carries, not a destination, and is skipped; one inside
 * the authority (`https://a.example,https://b.example`) is a list and counts.
 */
export function urlHosts(text: string): string[] {
  const hosts: string[] = [];
  const re = new RegExp(URL_AT);
  let authorityEnd = 0;
  let urlEnd = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index >= authorityEnd && m.index < urlEnd) {
      re.lastIndex = urlEnd;
      continue;
    }
    const scheme = (m[1] as string).toLowerCase();
    const authority = m[2] as string;
    const authorityStart = m.index + scheme.length + 3;
    authorityEnd = authorityStart + authority.length;
    urlEnd = authorityEnd + (m[3] as string).length;
    // In "https://a.example,https://b.example" the authority ends with the
    // next URL's "https:"; that part is a scheme, not a host.
    const list = (m[3] as string).startsWith('//') ? authority.slice(0, authority.lastIndexOf(',') + 1) : authority;
    if (!NOT_A_HOST.has(scheme)) hosts.push(...authorityHosts(list));
    re.lastIndex = authorityStart;           // look for a list inside the authority
  }
  return hosts;
}

/**
 * Hosts of a URL authority `[userinfo@]host[:port][,host[:port]…]`. The
 * comma list is the multi-host form of postgres and mongodb URIs.
 */
function authorityHosts(authority: string): string[] {
  const at = authority.lastIndexOf('@');
  const hostPart = at < 0 ? authority : authority.slice(at + 1);
  return hostPart.split(',').map(stripPort).filter((h): h is string => h !== undefined);
}

/** `host[:port]` → host; a bracketed IPv6 literal gives nothing. */
function stripPort(hostPort: string): string | undefined {
  if (hostPort.startsWith('[')) return undefined;
  const colon = hostPort.indexOf(':');
  const host = colon < 0 ? hostPort : hostPort.slice(0, colon);
  return host.length > 0 ? host : undefined;
}

/** Whether `word` has a `scheme://` in it. */
export function hasUrl(word: string): boolean {
  return word.includes('://');
}

/**
 * What curl, wget and httpie do with a positional argument: a URL, or a
 * scheme-less `[user@]host[:port][/path]` they prefix with http://.
 */
export function urlOrBareHost(word: string): string[] {
  if (hasUrl(word)) return urlHosts(word);
  if (word.startsWith('-') || word.startsWith('/') || word.startsWith('.')) return [];
  const end = word.search(/[/?#]/);
  const authority = end < 0 ? word : word.slice(0, end);
  const at = authority.lastIndexOf('@');
  const hostPort = at < 0 ? authority : authority.slice(at + 1);
  const colon = hostPort.indexOf(':');
  if (colon >= 0 && !/^[0-9]*$/.test(hostPort.slice(colon + 1))) return [];
  const host = stripPort(hostPort);
  return host === undefined ? [] : [host];
}

/**
 * The host of a remote in scp/rsync/git syntax: a URL, or `[user@]host:path`
 * where the first `:` comes before any `/` (rsync's `host::module` too).
 * Anything else is a local path.
 */
export function scpHost(word: string): string[] {
  if (hasUrl(word)) return urlHosts(word);
  if (/^(?:\/|\.\/|\.\.\/|~)/.test(word)) return [];
  const colon = word.indexOf(':');
  if (colon <= 0) return [];
  const slash = word.indexOf('/');
  if (slash >= 0 && slash < colon) return [];
  const userHost = word.slice(0, colon);
  const host = userHost.slice(userHost.lastIndexOf('@') + 1);
  return host.length > 0 && !host.startsWith('[') ? [host] : [];
}

/** An ssh destination: `[user@]host` or `ssh://[user@]host[:port]`. */
export function sshHost(word: string): string[] {
  if (hasUrl(word)) return urlHosts(word);
  const host = word.slice(word.lastIndexOf('@') + 1);
  return host.length > 0 ? [host] : [];
}

/** `host[:port]` / `[user@]host[:port]`, or a URL; comma lists give each host (ssh -J). */
export function hostPortList(value: string): string[] {
  if (hasUrl(value)) return value.split(',').flatMap(urlHosts);
  return value
    .split(',')
    .map((part) => stripPort(part.slice(part.lastIndexOf('@') + 1)))
    .filter((h): h is string => h !== undefined);
}

export type ImageSource =
  | { readonly kind: 'hub' }                    // Docker Hub: the docker preset
  | { readonly kind: 'registry'; readonly host: string };

const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** Names Docker itself treats as Docker Hub, which the docker preset covers. */
export function isDockerHub(host: string): boolean {
  return HUB_ALIASES.has(host.toLowerCase());
}

/**
 * Where `docker pull` fetches an image reference from. The first path
 * component is a registry only if it has a `.` or a `:` or is `localhost`
 * (Docker's own rule); otherwise the image is on Docker Hub. Undefined for
 * references that are not literal image names, and for localhost registries.
 */
export function imageSource(ref: string): ImageSource | undefined {
  const name = ref.replace(/^docker:\/\//, '').split('@')[0] as string;   // podman's transport prefix
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/.test(name)) return undefined;
  const slash = name.indexOf('/');
  if (slash < 0) return { kind: 'hub' };
  const first = name.slice(0, slash);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') return { kind: 'hub' };
  const host = (first.split(':')[0] as string).toLowerCase();
  if (host === 'localhost') return undefined;
  if (isDockerHub(host)) return { kind: 'hub' };
  return { kind: 'registry', host };
}
