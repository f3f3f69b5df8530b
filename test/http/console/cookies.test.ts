import { describe, expect, it } from 'vitest';
import { clearedSessionCookie, sessionCookie, sessionFromCookie } from '../../../src/http/console/cookies.js';

describe('session cookie', () => {
  it('is HttpOnly, SameSite=Strict, on Path=/, with a Max-Age', () => {
    expect(sessionCookie('abc', 60)).toBe('intentdns_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=60');
    expect(clearedSessionCookie()).toBe('intentdns_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0');
  });

  it('is read out of a Cookie header among others; anything not base64url is no session', () => {
    expect(sessionFromCookie('a=1; intentdns_session=Zm9v_-9; b=2')).toBe('Zm9v_-9');
    expect(sessionFromCookie('intentdns_session=<x>')).toBeNull();
    expect(sessionFromCookie('intentdns_session=')).toBeNull();
    expect(sessionFromCookie('other=1')).toBeNull();
    expect(sessionFromCookie(undefined)).toBeNull();
  });
});
