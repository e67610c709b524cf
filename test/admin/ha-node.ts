// A node of a pair for the admin tests, standing in for the keepalived supervisor: a status the
// test sets, a handover that moves the role the way keepalived would report it, and an admin
// plane over a real furiwake that answers /api/v1/ha from it.

import { after } from 'node:test';
import type { HaControl } from '../../src/admin/host.ts';
import { AdminPlane } from '../../src/admin/plane.ts';
import type { Furiwake } from '../../src/app.ts';
import type { HaRole, HaStatus } from '../../src/ha/status.ts';
import { adminConfig } from './helpers.ts';

export class StandInHaNode implements HaControl {
  readonly current: HaStatus;
  /** every handover asked, in order */
  readonly asked: boolean[] = [];
  /** false: the config has no ha section (every answer null) */
  present = true;
  /** false: the ha section has no VRRP (interface and router-id) */
  vrrp = true;

  constructor() {
    this.current = {
      vrrp: {
        role: 'master', interface: 'eth0', routerId: 7, priority: 150, vips: ['192.0.2.100', '2001:db8::100'],
        handedOver: false, unfit: null, keepalived: { running: true, pid: 4242, restarts: 1 },
        transitions: [{ from: 'init', to: 'backup', at: Date.now() - 60_000, reason: 'keepalived started' }, { from: 'backup', to: 'master', at: Date.now() - 57_000, reason: 'no advertisement from a peer of higher priority' }],
      },
      sync: { peers: [{ peer: '10.0.0.2:7400', connected: true, lastSync: Date.now() - 30_000, sent: 1200, received: 800, authFailures: 0 }], operator: [] },
      conntrack: { running: true, pid: 4343, restarts: 0 },
    };
  }

  status(): HaStatus | null {
    return this.present ? structuredClone(this.current) : null;
  }

  movesVips(): boolean {
    return this.present && this.vrrp;
  }

  handover(on: boolean): HaStatus | null {
    if (!this.present) return null;
    this.asked.push(on);
    const vrrp = this.current.vrrp!;
    vrrp.handedOver = on;
    // as keepalived reports it: a handed-over node is unfit on purpose (fault); taken back, it wins again
    const to: HaRole = on ? 'fault' : 'master';
    if (vrrp.role !== to) vrrp.transitions.push({ from: vrrp.role, to, at: Date.now(), reason: on ? 'handed over by an operator' : 'taken back by an operator' });
    vrrp.role = to;
    return this.status();
  }

  transitionsTotal(): ReadonlyMap<HaRole, number> | null {
    return null;
  }

  conntrackSync(): null {
    return null;
  }
}

/** An admin plane over `app` whose pair is `node`; its base URL. Closed when the test file ends. */
export async function adminWithHa(app: Furiwake, node: HaControl): Promise<string> {
  const plane = new AdminPlane({
    runtime: app.runtime, log: app.log, health: app.health, load: null,
    reload: (c) => app.reload(c), listener: (n) => app.listener(n), ha: node,
  });
  after(() => plane.close());
  const problems = await plane.apply(adminConfig());
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return `http://127.0.0.1:${plane.address()!.port}`;
}
