/** The record of approvals that granted nothing: counts per reason from zero, a bounded newest-first list. */
import { describe, expect, it } from 'vitest';

import { MAX_RECENT_NO_GRANTS, NO_GRANT_REASONS, NoGrants } from '../../src/approval/no-grants.js';

describe('NoGrants', () => {
  it('has every reason at 0 before anything happens', () => {
    const counts = new NoGrants().counts;
    expect(Object.keys(counts).sort()).toEqual([...NO_GRANT_REASONS].sort());
    expect(Object.values(counts).every((n) => n === 0)).toBe(true);
  });

  it('keeps the last 50, newest first; a replayed id keeps one entry but counts again', () => {
    const n = new NoGrants();
    for (let i = 0; i < MAX_RECENT_NO_GRANTS + 10; i++) n.record({ id: `cmd_${i}`, agent: 'a', command: 'ls' }, 'no_host', i * 1000);
    n.record({ id: 'cmd_20', agent: 'a', command: 'ls' }, 'no_host', 999_000);
    const list = n.list();
    expect(list).toHaveLength(MAX_RECENT_NO_GRANTS);
    expect(list[0]).toEqual({ id: 'cmd_20', agent: 'a', command: 'ls', reason: 'no_host', at: new Date(999_000).toISOString() });
    expect(list[1]!.id).toBe(`cmd_${MAX_RECENT_NO_GRANTS + 9}`);
    expect(list.filter((e) => e.id === 'cmd_20')).toHaveLength(1);
    expect(n.counts.no_host).toBe(MAX_RECENT_NO_GRANTS + 11);
  });

  it('cuts long commands', () => {
    const n = new NoGrants();
    n.record({ id: 'x', agent: 'a', command: 'y'.repeat(10_000) }, 'expired', 0);
    expect(n.list()[0]!.command.length).toBeLessThan(300);
  });
});
