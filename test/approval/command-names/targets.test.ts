import { describe, expect, it } from 'vitest';
import {
  hostPortList, imageSource, scpHost, sshHost, urlHosts, urlOrBareHost,
} from '../../../src/approval/command-names/targets.js';

describe('urlHosts', () => {
  it.each([
    ['https://api.example.com/v1', ['api.example.com']],
    ['HTTP://Example.com:8080', ['Example.com']],
    ['ssh://git@git.example.org:2222/x.git', ['git.example.org']],
    ['postgres://app:p@ss@db.example.com:5432/app', ['db.example.com']],
    ['mongodb://h1.example.com:27017,h2.example.com/db', ['h1.example.com', 'h2.example.com']],
    ['--url=https://a.example.com/x', ['a.example.com']],
    ['jdbc:postgresql://db.example.com:5432/x', ['db.example.com']],
    ['https://a.example.com,https://b.example.com/x', ['a.example.com', 'b.example.com']],
    ['https://a.example.com/login?next=https://b.example.com/', ['a.example.com']],
    [`fetch('https://a.example.com/x').then(() => fetch("https://b.example.com"))`, ['a.example.com', 'b.example.com']],
    ['http://[::1]:8080/', []],
    ['http://user@[2001:db8::1]/', []],
    ['file:///etc/hosts', []],
    ['s3://logs.example.com/2024/', []],
    ['gs://bucket.example.com/x', []],
    ['unix:///var/run/docker.sock', []],
    ['not a url: example.com/x', []],
  ])('%s → %j', (text, hosts) => {
    expect(urlHosts(text)).toEqual(hosts);
  });
});

describe('urlOrBareHost', () => {
  it.each([
    ['https://a.example.com/x', ['a.example.com']],
    ['example.com/robots.txt', ['example.com']],
    ['user@example.com:8080/x?y', ['example.com']],
    ['example.com:http', []],
    ['-o', []],
    ['./file.json', []],
    ['/tmp/x', []],
    ['[::1]:80', []],
  ])('%s → %j', (word, hosts) => {
    expect(urlOrBareHost(word)).toEqual(hosts);
  });
});

describe('scpHost', () => {
  it.each([
    ['git@github.com:org/repo.git', ['github.com']],
    ['deploy@web-1.corp.internal:/srv', ['web-1.corp.internal']],
    ['host.example.com:', ['host.example.com']],
    ['mirror.example.net::module/path', ['mirror.example.net']],
    ['rsync://mirror.example.net/pub', ['mirror.example.net']],
    ['./dist', []],
    ['dist/a:b', []],
    ['/abs/a:b', []],
    ['~/x:y', []],
    ['build.tgz', []],
    ['[::1]:/tmp', []],
    [':path', []],
  ])('%s → %j', (word, hosts) => {
    expect(scpHost(word)).toEqual(hosts);
  });
});

describe('sshHost and hostPortList', () => {
  it('reads ssh destinations', () => {
    expect(sshHost('deploy@bastion.example.com')).toEqual(['bastion.example.com']);
    expect(sshHost('ssh://a@b.example.com:2222')).toEqual(['b.example.com']);
    expect(sshHost('alias')).toEqual(['alias']);
  });

  it('reads host[:port] lists', () => {
    expect(hostPortList('a@j1.example.com:22,j2.example.com')).toEqual(['j1.example.com', 'j2.example.com']);
    expect(hostPortList('[::1]:22')).toEqual([]);
    expect(hostPortList('https://registry.example.com')).toEqual(['registry.example.com']);
  });
});

describe('imageSource', () => {
  it.each([
    ['ubuntu:24.04', { kind: 'hub' }],
    ['library/nginx', { kind: 'hub' }],
    ['org/img:tag', { kind: 'hub' }],
    ['docker.io/library/redis', { kind: 'hub' }],
    ['ghcr.io/org/img:tag', { kind: 'registry', host: 'ghcr.io' }],
    ['registry.example.com:5000/img', { kind: 'registry', host: 'registry.example.com' }],
    ['GHCR.IO/org/img@sha256:abc', { kind: 'registry', host: 'ghcr.io' }],
    ['docker://quay.io/podman/stable', { kind: 'registry', host: 'quay.io' }],
    ['registry:5000/img', { kind: 'registry', host: 'registry' }],
    ['localhost:5000/x', undefined],
    ['localhost/x', undefined],
    ['\u0000', undefined],
    ['-it', undefined],
  ])('%s → %j', (ref, source) => {
    expect(imageSource(ref)).toEqual(source);
  });
});
