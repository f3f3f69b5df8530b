import type { Socket } from 'node:net';

/** Why a connection was closed to make room: its source had too many, or the listener did. */
export type ShedReason = 'client_limit' | 'global_limit';

export const SHED_REASONS: readonly ShedReason[] = ['client_limit', 'global_limit'];

interface Tracked {
  readonly client: string;
  /** Requests being answered now (after their body was read, until the reply is written). */
  busy: number;
}

/**
 * Keeps `listen.http` answering probes while someone floods it with
 * connections (slowloris: connections that drip header bytes and never
 * finish a request).
 *
 * Refusing new connections at a cap, as node's `server.maxConnections` does,
 * hands the port to whoever opened connections first: 300 dripping
 * connections left no slot for the kubelet, and a liveness probe that fails
 * restarts the pod and takes DNS down with it. Here a new connection is
 * always taken, and room is made by closing the connection that has waited
 * longest without a request being answered on it: one still reading headers
 * or a body, or an idle keep-alive one. A probe finishes its request within
 * milliseconds of connecting, so it is the newest idle connection, never the
 * oldest, and flooders only push out each other.
 *
 * A source over its own cap loses its own oldest connection first, so one
 * source cannot push out anyone else's; with many sources the global cap
 * does the same across them. Connections with a reply in progress are never
 * closed; when every one is, the new connection is the one closed.
 *
 * Order is kept in a Map (insertion order): a connection moves to the end
 * when it connects and whenever a reply on it ends. Finding the one to close
 * walks from the front, past busy connections only, and the map holds at
 * most `maxConnections` + 1 entries.
 */
export class ConnectionGuard {
  readonly #open = new Map<Socket, Tracked>();
  readonly #perClient = new Map<string, number>();

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerClient: number,
    /** Told about every connection closed to make room. */
    private readonly onShed: (reason: ShedReason, client: string) => void = () => {},
  ) {}

  get size(): number {
    return this.#open.size;
  }

  /** A new connection from `client`: taken, and the limits enforced by closing the longest-waiting idle one. */
  admit(socket: Socket, client: string): void {
    this.#open.set(socket, { client, busy: 0 });
    const count = (this.#perClient.get(client) ?? 0) + 1;
    this.#perClient.set(client, count);
    socket.once('close', () => this.#forget(socket));
    if (count > this.maxPerClient) this.#shed('client_limit', client);
    else if (this.#open.size > this.maxConnections) this.#shed('global_limit', null);
  }

  /** A request on `socket` is being answered: its connection is not to be closed until `idle`. */
  busy(socket: Socket): void {
    const tracked = this.#open.get(socket);
    if (tracked) tracked.busy++;
  }

  /** A reply on `socket` ended: the connection goes to the back of the line. */
  idle(socket: Socket): void {
    const tracked = this.#open.get(socket);
    if (!tracked) return;
    tracked.busy = Math.max(0, tracked.busy - 1);
    this.#open.delete(socket);
    this.#open.set(socket, tracked);
  }

  /** Closes the longest-waiting idle connection (of `client`, when given). */
  #shed(reason: ShedReason, client: string | null): void {
    for (const [socket, tracked] of this.#open) {
      if (tracked.busy > 0 || (client !== null && tracked.client !== client)) continue;
      this.#forget(socket);
      socket.destroy();
      this.onShed(reason, tracked.client);
      return;
    }
  }

  #forget(socket: Socket): void {
    const tracked = this.#open.get(socket);
    if (!tracked) return;
    this.#open.delete(socket);
    const left = (this.#perClient.get(tracked.client) ?? 1) - 1;
    if (left > 0) this.#perClient.set(tracked.client, left);
    else this.#perClient.delete(tracked.client);
  }
}
