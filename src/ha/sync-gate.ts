// A node that starts with `ha.sync` holds no state of its peers yet: operator changes (a member
// drained meanwhile) and stick entries arrive with the first full resynchronisation. Taking the
// VIPs before it (preempt, a higher priority) would send new clients to a drained member and
// re-balance pinned ones, so the node stays unfit until a peer's resynchronisation arrived, or
// until no peer answered within NO_PEER_WAIT (a lone node must still serve), or a peer that
// answered has not finished within SLOW_PEER_WAIT. Once open, the gate stays open: a reload or a
// link that drops later never takes the VIPs away from a serving node.

import type { Logger } from '../log.ts';
import type { HaSync } from './sync.ts';

/** no peer connected within this: the node serves alone (the link redials at 0.1, 0.2, 0.4 ... s: a live peer is tried six times within it) */
export const NO_PEER_WAIT = 5_000;
/** a peer connected but its resynchronisation has not ended within this: the node serves with what it has */
export const SLOW_PEER_WAIT = 30_000;

export const WAITING_REASON = 'waiting for the state of its peers (first full resynchronisation)';

export interface GateBounds {
  noPeer: number;
  slowPeer: number;
}

export class SyncGate {
  /** null once open; the unfit reason while closed */
  reason: string | null = WAITING_REASON;
  readonly #log: Logger;
  readonly #bounds: GateBounds;
  readonly #onOpen: () => void;
  #sync: HaSync | null = null;
  #noPeer: NodeJS.Timeout;
  #slowPeer: NodeJS.Timeout;

  constructor(log: Logger, onOpen: () => void, bounds: GateBounds = { noPeer: NO_PEER_WAIT, slowPeer: SLOW_PEER_WAIT }) {
    this.#log = log;
    this.#onOpen = onOpen;
    this.#bounds = bounds;
    this.#noPeer = setTimeout(this.#noPeerAnswered, bounds.noPeer).unref();
    this.#slowPeer = setTimeout(this.#peerTooSlow, bounds.slowPeer).unref();
    log.info({ reason: WAITING_REASON }, 'ha: this node keeps away from the VIPs until it has the state of its peers');
  }

  /** The link to listen to; a new one (a reload changed ha.sync) replaces it, the bounds still count from the start. */
  follow(sync: HaSync | null): void {
    if (this.reason === null || sync === this.#sync) return;
    this.#sync?.events.off('synced', this.#synced);
    this.#sync = sync;
    if (sync === null) return this.#open({}, 'ha: a reload removed ha.sync: serving with what this node has');
    sync.events.on('synced', this.#synced);
    if (sync.firstSyncFrom !== null) this.#synced(sync.firstSyncFrom);
  }

  close(): void {
    clearTimeout(this.#noPeer);
    clearTimeout(this.#slowPeer);
    this.#sync?.events.off('synced', this.#synced);
    this.#sync = null;
  }

  #synced = (peer: string): void => {
    this.#open({ peer }, `ha: state received from ${peer}: this node may hold the VIPs`);
  };

  #noPeerAnswered = (): void => {
    if (this.#sync?.peerSeen === true) return;
    this.#open({ waited: this.#bounds.noPeer }, `ha: no peer answered within ${seconds(this.#bounds.noPeer)}: serving with what this node has`);
  };

  #peerTooSlow = (): void => {
    this.#open({ waited: this.#bounds.slowPeer },
      `ha: no peer finished its resynchronisation within ${seconds(this.#bounds.slowPeer)}: serving with what this node has`);
  };

  #open(fields: Record<string, unknown>, msg: string): void {
    if (this.reason === null) return;
    this.reason = null;
    this.close();
    this.#log.info(fields, msg);
    try {
      this.#onOpen();
    } catch (err) {
      this.#log.error({ err }, 'ha: telling keepalived this node is fit failed');
    }
  }
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}
