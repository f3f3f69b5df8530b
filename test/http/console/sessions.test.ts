import { describe, expect, it } from 'vitest';
import { csrfMatches, SessionStore } from '../../../src/http/console/sessions.js';

const T0 = Date.UTC(2026, 11, 2, 8, 0);

describe('SessionStore', () => {
  it('makes random 32-byte ids and CSRF tokens, and finds a session by its id only', () => {
    const store = new SessionStore();
    const a = store.create(T0);
    const b = store.create(T0);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
    expect(a.session.csrf).not.toBe(b.session.csrf);
    expect(store.find(a.id, T0)).toBe(a.session);
    expect(store.find(`${a.id.slice(0, -1)}x`, T0)).toBeNull();
    expect(store.find(a.session.csrf, T0)).toBeNull();
  });

  it('keeps at most maxSessions, dropping the oldest login', () => {
    const store = new SessionStore({ maxSessions: 3 });
    const ids = Array.from({ length: 5 }, (_, i) => store.create(T0 + i).id);
    expect(store.size).toBe(3);
    expect(ids.map((id) => store.find(id, T0 + 10) !== null)).toEqual([false, false, true, true, true]);
  });

  it('ends a session lifetimeMs after its login, and forgets it', () => {
    const store = new SessionStore({ lifetimeMs: 1000 });
    const { id } = store.create(T0);
    expect(store.find(id, T0 + 999)).not.toBeNull();
    expect(store.find(id, T0 + 1000)).toBeNull();
    expect(store.size).toBe(0);
  });

  it('end() logs one session out, clear() all of them', () => {
    const store = new SessionStore();
    const a = store.create(T0);
    const b = store.create(T0);
    store.end(a.session);
    expect(store.find(a.id, T0)).toBeNull();
    expect(store.find(b.id, T0)).not.toBeNull();
    store.clear();
    expect(store.find(b.id, T0)).toBeNull();
  });
});

describe('csrfMatches', () => {
  it('takes the session\'s token only, never an empty or absent one', () => {
    const { session } = new SessionStore().create(T0);
    expect(csrfMatches(session, session.csrf)).toBe(true);
    expect(csrfMatches(session, `${session.csrf}x`)).toBe(false);
    expect(csrfMatches(session, '')).toBe(false);
    expect(csrfMatches(session, undefined)).toBe(false);
  });
});
