// State changes of the live model, published for whoever watches: the pool (to rebuild its
// balancer and serve its queue), logs, and later the dashboard and the kernel renderer.
// Per-connection counters are NOT events: they change on the hot path and are read on demand.

import { EventEmitter } from 'node:events';
import type { Member } from './member.ts';
import type { MemberChange } from './member-state.ts';

export type { AdminState, AgentState, AgentView, CheckView, Health, MemberChange } from './member-state.ts';

export interface RuntimeEventMap {
  member: [member: Member, change: MemberChange];
  reload: [summary: string];
}

export class RuntimeEvents extends EventEmitter<RuntimeEventMap> {}
