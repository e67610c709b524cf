// State changes of the live model, published for whoever watches: the pool (to rebuild its
// balancer and serve its queue), logs, and later the dashboard and the kernel renderer.
// Per-connection counters are NOT events: they change on the hot path and are read on demand.

import { EventEmitter } from 'node:events';
import type { Member } from './member.ts';

export type Health = 'checking' | 'up' | 'down';
export type AdminState = 'enabled' | 'drain' | 'disabled';

export type MemberChange =
  | { kind: 'health'; from: Health; to: Health; reason: string }
  | { kind: 'admin'; from: AdminState; to: AdminState }
  | { kind: 'weight'; from: number; to: number }
  | { kind: 'max-connections'; from: number; to: number };

export interface RuntimeEventMap {
  member: [member: Member, change: MemberChange];
  reload: [summary: string];
}

export class RuntimeEvents extends EventEmitter<RuntimeEventMap> {}
