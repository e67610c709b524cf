// The persistence entries of nat and dsr services, for the replication link. The kernel keeps
// them (nftables sets the packet path writes), so nothing tells furiwake when one is made: they
// are read every READ_INTERVAL while a link is up (one `nft -j list table` per family), and what
// is new, moved to another member, or refreshed since it was last sent goes out as stick entries
// of the service — the peer knows the service is a kernel one from its own config. The kernel
// expires them on both nodes, so no deletion travels. Entries a peer sent are recorded as sent,
// so they do not travel back.

import type { Runtime } from '../runtime/runtime.ts';
import type { StickEntryUpdate, SyncMessage } from './sync-frame.ts';

/** how often the kernel's entries are read while a link is up: the lag of a new entry is at most this (and one flush) */
export const READ_INTERVAL = 1_000;
/** entries per stick frame, as for the user-space tables */
const BATCH = 1_000;
/** an entry the packet path refreshed is sent again once its expiry moved this far past what the peer was sent */
const MIN_REFRESH = 5_000;
/** the text the link carries is at most this long */
const MAX_TEXT = 255;

interface Sent {
  member: string;
  /** ms since epoch the entry expires at on the peer, as sent */
  expiresAt: number;
}

export class KernelStickyWatch {
  readonly #runtime: Runtime;
  /** service -> key -> what the peers have */
  #sent = new Map<string, Map<string, Sent>>();
  /** read, not yet flushed: service -> entries */
  #pending = new Map<string, StickEntryUpdate[]>();
  #reading = false;

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
  }

  /** The next reading sends every entry (a link came up: its peer gets all of them). */
  resendAll(): void {
    this.#sent.clear();
  }

  /** Reads the kernel's entries and keeps the new and changed ones for the next flush; one reading at a time. */
  async read(): Promise<void> {
    const kernel = this.#runtime.kernel;
    if (kernel === null || this.#reading) return;
    this.#reading = true;
    try {
      const entries = await kernel.allSticky();
      const now = Date.now();
      const seen = new Map<string, Map<string, Sent>>();
      for (const e of entries) {
        if (e.member === null || e.key.length > MAX_TEXT || e.member.id.length > MAX_TEXT) continue;
        const service = this.#runtime.services.get(e.service);
        if (service === undefined) continue;
        const p = service.config.persistence;
        const timeout = p !== null && 'timeout' in p ? p.timeout : 0;
        const before = this.#sent.get(e.service)?.get(e.key);
        const expiresAt = now + e.expiresIn;
        let sent = seen.get(e.service);
        if (sent === undefined) seen.set(e.service, (sent = new Map()));
        if (before !== undefined && before.member === e.member.id && expiresAt - before.expiresAt < Math.max(MIN_REFRESH, timeout / 10)) {
          sent.set(e.key, before);
          continue;
        }
        sent.set(e.key, { member: e.member.id, expiresAt });
        let pending = this.#pending.get(e.service);
        if (pending === undefined) this.#pending.set(e.service, (pending = []));
        pending.push({ key: e.key, member: e.member.id, expiresIn: e.expiresIn });
      }
      // what the kernel no longer has (expired, flushed) is forgotten: if it comes back, it is new
      this.#sent = seen;
    } finally {
      this.#reading = false;
    }
  }

  /** A peer sent these: this node's own reading will find them, and need not send them back. */
  adopted(service: string, entries: readonly StickEntryUpdate[]): void {
    let sent = this.#sent.get(service);
    if (sent === undefined) this.#sent.set(service, (sent = new Map()));
    const now = Date.now();
    for (const e of entries) sent.set(e.key, { member: e.member, expiresAt: now + e.expiresIn });
  }

  /** The entries read since the last flush, as stick messages; how many. */
  flush(messages: SyncMessage[]): number {
    let count = 0;
    for (const [service, entries] of this.#pending) {
      for (let i = 0; i < entries.length; i += BATCH) messages.push({ type: 'stick', service, entries: entries.slice(i, i + BATCH) });
      count += entries.length;
    }
    this.#pending.clear();
    return count;
  }

  /** Nothing read is sent (no link is up). */
  drop(): void {
    this.#pending.clear();
  }
}
