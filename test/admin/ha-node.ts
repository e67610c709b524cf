// A node of a pair for the admin tests, standing in for the keepalived supervisor: a status the
// test sets, and a handover that moves the role the way keepalived would report it.

import type { HaNode } from '../../src/admin/host.ts';
import type { HaRole, HaStatus } from '../../src/ha/status.ts';

export class StandInHaNode implements HaNode {
  readonly current: HaStatus;
  /** every handover asked, in order */
  readonly asked: boolean[] = [];

  constructor(status: Partial<HaStatus> = {}) {
    this.current = {
      vrrp: {
        role: 'master', interface: 'eth0', routerId: 7, priority: 150, vips: ['192.0.2.100', '2001:db8::100'],
        handedOver: false, unfit: null, keepalived: { running: true, pid: 4242, restarts: 1 },
        transitions: [{ from: 'init', to: 'backup', at: Date.now() - 60_000, reason: 'keepalived started' }, { from: 'backup', to: 'master', at: Date.now() - 57_000, reason: 'no advertisement from a peer of higher priority' }],
      },
      sync: { peers: [{ peer: '10.0.0.2:7400', connected: true, lastSync: Date.now() - 30_000, sent: 1200, received: 800, authFailures: 0 }] },
      conntrack: { running: true, pid: 4343, restarts: 0 },
      ...status,
    };
  }

  status(): HaStatus {
    return structuredClone(this.current);
  }

  async handover(on: boolean): Promise<HaStatus> {
    this.asked.push(on);
    const vrrp = this.current.vrrp;
    vrrp.handedOver = on;
    const to: HaRole = on ? 'backup' : 'master';
    if (vrrp.role !== to) vrrp.transitions.push({ from: vrrp.role, to, at: Date.now(), reason: on ? 'handed over by an operator' : 'taken back by an operator' });
    vrrp.role = to;
    return this.status();
  }
}
