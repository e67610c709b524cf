// @ts-check
// What the page knows: the last snapshot with member changes merged in, and each member's new
// connections per second over the last minute (for the sparklines).

/** @typedef {import('../schemas.ts').Snapshot} Snapshot */
/** @typedef {import('../schemas.ts').MemberStateView} MemberStateView */

export const HISTORY = 60;

export const model = {
  /** @type {Snapshot | null} the last snapshot, with member changes merged in */
  snapshot: null,
  /** @type {Map<string, number[]>} per member (pool/id): new connections in each of the last seconds, oldest first */
  history: new Map(),
  /** @type {Map<string, number>} per member: connections total at the last snapshot */
  totals: new Map(),
};

/** @param {{ pool: string, id: string }} m */
export const memberKey = (m) => `${m.pool}/${m.id}`;

/** @param {Snapshot} s */
export function applySnapshot(s) {
  for (const pool of s.pools) {
    for (const m of pool.members) {
      const k = memberKey(m);
      if (m.history !== undefined) {
        model.history.set(k, m.history.slice(-HISTORY));
      } else {
        const h = model.history.get(k) ?? new Array(HISTORY).fill(0);
        const last = model.totals.get(k);
        h.push(last === undefined ? 0 : Math.max(0, m.connections.total - last));
        while (h.length > HISTORY) h.shift();
        model.history.set(k, h);
      }
      model.totals.set(k, m.connections.total);
    }
  }
  model.snapshot = s;
}

/**
 * A member's new state (an event, or a write's answer), merged into the snapshot; its counters
 * stay those of the snapshot. False when the member is not in it.
 * @param {MemberStateView} m
 * @returns {boolean}
 */
export function mergeMember(m) {
  const pool = model.snapshot?.pools.find((p) => p.name === m.pool);
  const member = pool?.members.find((x) => x.id === m.id);
  if (pool === undefined || member === undefined) return false;
  Object.assign(member, m, { connections: member.connections, bytes: member.bytes, rates: member.rates, share: member.share });
  pool.usable = pool.members.filter((x) => x.usable).length;
  return true;
}
