import type { ChildProcess } from 'node:child_process';

/**
 * Children a test started are killed when the test process ends, however it
 * ends: a worker torn down by an uncaught error or a timeout never runs its
 * afterEach, and an intentdns it started once kept running after the session.
 */
const live = new Set<ChildProcess>();
let hooked = false;

export function reapOnExit<C extends ChildProcess>(child: C): C {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const c of live) if (c.exitCode === null && c.pid !== undefined) c.kill('SIGKILL');
    });
  }
  return child;
}
