import { describe, expect, it } from 'vitest';
import { validHostName } from '../../../src/approval/command-names/host-names.js';

const internal = ['corp.internal', 'lan'];

describe('validHostName', () => {
  it.each([
    ['api.example.com', 'api.example.com'],
    ['API.Example.COM', 'api.example.com'],
    ['example.com.', 'example.com'],
    ['example.co.uk', 'example.co.uk'],
    ['a.b.c.example.co.uk', 'a.b.c.example.co.uk'],
    ['user.github.io', 'user.github.io'],
    ['github.io', 'github.io'],
    ['_dmarc.example.com', '_dmarc.example.com'],
    ['sh.rustup.rs', 'sh.rustup.rs'],
    ['café.fr', 'xn--caf-dma.fr'],
    ['db.corp.internal', 'db.corp.internal'],
    ['nas.lan', 'nas.lan'],
  ])('accepts %s as %s', (candidate, name) => {
    expect(validHostName(candidate, internal)).toBe(name);
  });

  it.each([
    ['a single label', 'localhost'],
    ['a single label', 'prod-web'],
    ['localhost below a suffix', 'app.localhost'],
    ['an IPv4 address', '10.0.0.5'],
    ['an IPv6 address', '::1'],
    ['an unknown TLD', 'main.go'],
    ['an unknown TLD', 'index.js'],
    ['a public suffix alone', 'co.uk'],
    ['a reserved TLD', 'svc.test'],
    ['a reserved TLD', 'x.example'],
    ['a reserved TLD', 'x.invalid'],
    ['mDNS', 'printer.local'],
    ['Tor', 'abc.onion'],
    ['home.arpa', 'nas.home.arpa'],
    ['an internal suffix itself', 'corp.internal'],
    ['a look-alike of an internal suffix', 'evilcorp.internal'],
    ['an empty label', 'a..example.com'],
    ['a label starting with a hyphen', '-x.example.com'],
    ['a label ending with a hyphen', 'x-.example.com'],
    ['a label over 63 characters', `${'a'.repeat(64)}.example.com`],
    ['a name over 253 characters', `${'a.'.repeat(126)}example.com`],
    ['an expansion', '\u0000.example.com'],
    ['a glob', '*.example.com'],
    ['a percent escape', 'ex%61mple.com'],
    ['whitespace', 'exa mple.com'],
    ['nothing', ''],
  ])('rejects %s: %j', (_, candidate) => {
    expect(validHostName(candidate, internal)).toBeUndefined();
  });

  it('gives public file-name look-alikes a pass on their own: host position decides, not this check', () => {
    // setup.py, install.sh and notes.zip are syntactically public names; the
    // extractors keep them out by never reading file arguments.
    expect(validHostName('setup.py', internal)).toBe('setup.py');
  });
});
