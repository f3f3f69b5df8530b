import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { cpuQuota, usableCpus } from '../../src/config/cpus.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A cgroup mount of our own: `files` maps a path under it to its text. */
function cgroup(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'intentdns-cgroup-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), `${text}\n`);
  }
  return root;
}

describe('usableCpus (listen.workers: auto)', () => {
  it('a container limited to 2 CPUs on a 32-core node gets 2, not 32 (cgroup v2)', () => {
    expect(usableCpus({ cgroupRoot: cgroup({ 'cpu.max': '200000 100000' }), parallelism: 32 })).toBe(2);
  });

  it('a fraction of a CPU rounds up: 1.5 CPUs make 2 workers, 0.1 makes 1', () => {
    expect(usableCpus({ cgroupRoot: cgroup({ 'cpu.max': '150000 100000' }), parallelism: 8 })).toBe(2);
    expect(usableCpus({ cgroupRoot: cgroup({ 'cpu.max': '10000 100000' }), parallelism: 8 })).toBe(1);
  });

  it('no quota ("max") or no cgroup files: the scheduler\'s count', () => {
    expect(usableCpus({ cgroupRoot: cgroup({ 'cpu.max': 'max 100000' }), parallelism: 6 })).toBe(6);
    expect(usableCpus({ cgroupRoot: cgroup({}), parallelism: 6 })).toBe(6);
  });

  it('a quota above the CPUs we may run on does not add workers', () => {
    expect(usableCpus({ cgroupRoot: cgroup({ 'cpu.max': '800000 100000' }), parallelism: 4 })).toBe(4);
  });

  it('cgroup v1: cfs_quota_us / cfs_period_us, -1 meaning none', () => {
    expect(cpuQuota(cgroup({ 'cpu/cpu.cfs_quota_us': '300000', 'cpu/cpu.cfs_period_us': '100000' }))).toBe(3);
    expect(cpuQuota(cgroup({ 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' }))).toBeNull();
  });

  it('garbage in the files is no quota, never zero workers', () => {
    expect(usableCpus({ cgroupRoot: cgroup({ 'cpu.max': 'nonsense' }), parallelism: 3 })).toBe(3);
    expect(usableCpus({ cgroupRoot: cgroup({ 'cpu.max': '0 100000' }), parallelism: 3 })).toBe(3);
  });

  it('on this machine: at least 1, at most what the scheduler gives', async () => {
    const { availableParallelism } = await import('node:os');
    const n = usableCpus();
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(availableParallelism());
  });
});
