// The admin listener's connection slots. One client address holds at most `perClient` of them.
// When all `max` are taken, a new connection does not wait behind the slow ones: the oldest
// connection that has no request being answered (still sending its headers, or idle between
// requests) is closed to make room. A flood of slow clients from many addresses therefore
// cannot keep the operator out — their connections are the oldest, the operator's the newest —
// and only when every slot has a request being answered is the newcomer turned away.

import type net from 'node:net';
import type { RefusalReason } from './refusals.ts';

interface Slot {
  address: string;
  /** requests being answered on this connection (an event stream stays one) */
  busy: number;
}

export class ConnectionSlots {
  readonly #max: number;
  readonly #perClient: number;
  /** in the order they came: the first idle one is the oldest */
  readonly #open = new Map<net.Socket, Slot>();
  readonly #byAddress = new Map<string, number>();

  constructor(max: number, perClient: number) {
    this.#max = max;
    this.#perClient = perClient;
  }

  get size(): number {
    return this.#open.size;
  }

  /**
   * Takes a new connection, or closes it. `closed` hears of every connection closed here: the
   * newcomer (client-limit, limit) or the one that made room for it (evicted).
   */
  admit(socket: net.Socket, closed: (reason: RefusalReason, address: string | undefined) => void): void {
    const address = socket.remoteAddress;
    if (address === undefined) return void socket.destroy(); // gone already
    if ((this.#byAddress.get(address) ?? 0) >= this.#perClient) {
      socket.destroy();
      return closed('client-limit', address);
    }
    if (this.#open.size >= this.#max) {
      const idle = this.#oldestIdle();
      if (idle === null) {
        socket.destroy();
        return closed('limit', address);
      }
      const [victim, slot] = idle;
      this.#release(victim);
      victim.destroy();
      closed('evicted', slot.address);
    }
    this.#open.set(socket, { address, busy: 0 });
    this.#byAddress.set(address, (this.#byAddress.get(address) ?? 0) + 1);
    socket.once('close', () => this.#release(socket));
  }

  /** A request on `socket` is being answered (+1), or its answer is done (-1). */
  busy(socket: net.Socket, delta: 1 | -1): void {
    const slot = this.#open.get(socket);
    if (slot !== undefined) slot.busy += delta;
  }

  #oldestIdle(): [net.Socket, Slot] | null {
    for (const entry of this.#open) if (entry[1].busy === 0) return entry;
    return null;
  }

  #release(socket: net.Socket): void {
    const slot = this.#open.get(socket);
    if (slot === undefined) return;
    this.#open.delete(socket);
    const left = (this.#byAddress.get(slot.address) ?? 1) - 1;
    if (left === 0) this.#byAddress.delete(slot.address);
    else this.#byAddress.set(slot.address, left);
  }
}
