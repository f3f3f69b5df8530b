/**
 * Requests over IPC that wait for an answer: bounded in number, each with a
 * timeout, so a lost answer or a primary that went away costs a bounded
 * wait, never a promise that hangs. One per kind of request.
 */
export class PendingRequests<T> {
  #nextId = 1;
  readonly #waiting = new Map<number, { readonly settle: (value: T) => void; readonly timer: NodeJS.Timeout }>();

  constructor(readonly max: number) {}

  get size(): number {
    return this.#waiting.size;
  }

  /**
   * A new request id and the promise of its answer, which is `onTimeout()` after `timeoutMs`
   * without one; null when `max` requests wait already (the caller answers without asking).
   */
  open(timeoutMs: number, onTimeout: () => T): { readonly id: number; readonly answer: Promise<T> } | null {
    if (this.#waiting.size >= this.max) return null;
    const id = this.#nextId++;
    const answer = new Promise<T>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        resolve(onTimeout());
      }, timeoutMs);
      this.#waiting.set(id, { settle: resolve, timer });
    });
    return { id, answer };
  }

  /** The answer to request `id`; false when it is not waiting (timed out already, or never asked). */
  settle(id: number, value: T): boolean {
    const w = this.#waiting.get(id);
    if (w === undefined) return false;
    this.#waiting.delete(id);
    clearTimeout(w.timer);
    w.settle(value);
    return true;
  }

  /** Answers every waiting request with `value` (the other end went away). */
  settleAll(value: T): void {
    for (const id of [...this.#waiting.keys()]) this.settle(id, value);
  }
}
