// State changes of the live model, published for whoever watches: the pool (to rebuild its
// balancer and serve its queue), logs, and later the dashboard and the kernel renderer.
// Per-connection counters are NOT events: they change on the hot path and are read on demand.

import { EventEmitter } from 'node:events';
import type { Member } from './member.ts';
import type { MemberChange } from './member-state.ts';

import type { AdminState } from './member-state.ts';

export type { AdminState, AgentState, AgentView, CheckView, Health, MemberChange } from './member-state.ts';

export interface RuntimeEventMap {
  member: [member: Member, change: MemberChange];
  reload: [summary: string];
  /** an operator set these on a member (admin API or ctl): what ha.sync replicates to the peers */
  operator: [member: Member, change: OperatorSet];
}

/** What an operator sets on a member. */
export interface OperatorSet {
  state?: AdminState;
  weight?: number;
  maxConnections?: number;
}

/**
 * State changes are emitted from timers (slow start, the end of an ejection), health check
 * results and API handlers. A listener that throws must not escape into any of them (from a
 * timer it would end the process) nor keep the listeners after it from hearing the change: each
 * listener is called on its own, and a failure is handed to `listenerFailed` (the app logs it).
 */
export class RuntimeEvents extends EventEmitter<RuntimeEventMap> {
  listenerFailed: (err: unknown, event: keyof RuntimeEventMap) => void = () => {};

  override emit<K extends keyof RuntimeEventMap>(event: K, ...args: RuntimeEventMap[K]): boolean {
    // rawListeners: `once` wrappers included, so a once-listener still removes itself
    const listeners = this.rawListeners(event) as ((...a: RuntimeEventMap[K]) => void)[];
    for (const listener of listeners) {
      try {
        listener.apply(this, args);
      } catch (err) {
        this.listenerFailed(err, event);
      }
    }
    return listeners.length > 0;
  }
}
