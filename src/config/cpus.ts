/**
 * How many CPUs this process may really use, for `listen.workers: auto`.
 *
 * os.availableParallelism() counts the CPUs the scheduler lets us run on
 * (affinity, cpusets), but not a CFS quota: a container limited to 2 CPUs on
 * a 32-core node would get 32 workers that share 2 CPUs' worth of time, each
 * throttled in turn, which shows up as DNS latency. So the quota caps the
 * count, rounded up (1.5 CPUs gets 2 workers: the half is still usable), as
 * Go's automaxprocs and the JVM's container support do.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

export interface CpuSources {
  /** Where the cgroup file system is mounted; tests point it at a folder of their own. */
  readonly cgroupRoot?: string;
  /** The scheduler's count (os.availableParallelism()). */
  readonly parallelism?: number;
}

export function usableCpus(sources: CpuSources = {}): number {
  const parallelism = sources.parallelism ?? availableParallelism();
  const quota = cpuQuota(sources.cgroupRoot ?? '/sys/fs/cgroup');
  return Math.max(1, quota === null ? parallelism : Math.min(parallelism, Math.ceil(quota)));
}

/** The CFS quota in CPUs (quota / period), or null when there is none or it cannot be read. */
export function cpuQuota(root: string): number | null {
  // cgroup v2: "<quota|max> <period>" in the process's own cgroup, which a container sees as the root.
  const v2 = read(join(root, 'cpu.max'));
  if (v2 !== null) {
    const [quota, period] = v2.split(/\s+/);
    return ratio(quota, period);
  }
  // cgroup v1: two files; a quota of -1 means none.
  return ratio(read(join(root, 'cpu', 'cpu.cfs_quota_us')), read(join(root, 'cpu', 'cpu.cfs_period_us')));
}

function ratio(quota: string | null | undefined, period: string | null | undefined): number | null {
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && Number.isFinite(p) && q > 0 && p > 0 ? q / p : null;
}

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}
