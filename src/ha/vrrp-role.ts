// The role of this node from keepalived's reports: one state per VRRP instance (one per address
// family), one role for the node. The instances move together (a sync group), but between two
// reports they may differ: the node is only as far as its least advanced instance, so it is
// master once every instance is.

import type { HaRole, HaTransition } from './status.ts';

const RANK: Record<HaRole, number> = { stopped: 0, init: 1, fault: 2, backup: 3, master: 4 };
export const HA_ROLES: readonly HaRole[] = ['init', 'backup', 'master', 'fault', 'stopped'];
/** transitions kept for the status */
const KEPT = 32;

export class VrrpRoles {
  readonly #instances = new Map<string, HaRole>();
  #role: HaRole = 'stopped';
  readonly transitions: HaTransition[] = [];
  readonly counts = new Map<HaRole, number>(HA_ROLES.map((r) => [r, 0]));

  get role(): HaRole {
    return this.#role;
  }

  /** The instances this node runs (keepalived (re)started with them): each starts in init. */
  reset(names: readonly string[], role: HaRole, reason: string, now = Date.now()): HaTransition | null {
    this.#instances.clear();
    for (const name of names) this.#instances.set(name, role);
    return this.#settle(reason, now);
  }

  /** A reload changed the instances (a family gained or lost its VIPs): new ones start in init. */
  track(names: readonly string[], reason: string, now = Date.now()): HaTransition | null {
    if (this.#instances.size === 0) return null; // keepalived is not running: its start says which
    for (const name of [...this.#instances.keys()]) if (!names.includes(name)) this.#instances.delete(name);
    for (const name of names) if (!this.#instances.has(name)) this.#instances.set(name, 'init');
    return this.#settle(reason, now);
  }

  /** One instance's new state; a name that is not ours is ignored (null). */
  report(name: string, role: HaRole, reason: (from: HaRole, to: HaRole) => string, now = Date.now()): HaTransition | null {
    if (!this.#instances.has(name)) return null;
    this.#instances.set(name, role);
    return this.#settle(reason, now);
  }

  #settle(reason: string | ((from: HaRole, to: HaRole) => string), now: number): HaTransition | null {
    let role: HaRole = 'master';
    for (const r of this.#instances.values()) if (RANK[r] < RANK[role]) role = r;
    if (this.#instances.size === 0) role = 'stopped';
    const from = this.#role;
    if (role === from) return null;
    this.#role = role;
    const transition: HaTransition = { from, to: role, at: now, reason: typeof reason === 'string' ? reason : reason(from, role) };
    this.transitions.push(transition);
    if (this.transitions.length > KEPT) this.transitions.shift();
    this.counts.set(role, (this.counts.get(role) ?? 0) + 1);
    return transition;
  }
}
