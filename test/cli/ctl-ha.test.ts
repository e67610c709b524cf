// What `furiwake ctl ha` prints of a node of a pair: whether it is fit, the link to each peer with
// its last full resynchronisation, the operator changes both nodes apply (by whom, when).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { haText } from '../../src/cli/ctl-ha.ts';
import type { HaStatus } from '../../src/ha/status.ts';

const T = Date.UTC(2026, 11, 2, 8, 0, 0);

function status(): HaStatus {
  return {
    vrrp: {
      role: 'backup', interface: 'eth0', routerId: 17, priority: 100, vips: ['192.0.2.10'], handedOver: false, unfit: null,
      keepalived: { running: true, pid: 42, restarts: 0 },
      transitions: [{ from: 'init', to: 'backup', at: T, reason: 'keepalived starts as a backup; the election decides' }],
    },
    sync: {
      peers: [{ peer: '192.0.2.1:7400', connected: true, lastSync: T, sent: 3, received: 5, authFailures: 0 }],
      operator: [{ pool: 'web', member: '10.0.1.12:8080', field: 'state', value: 'drain', at: T + 1_000, by: '192.0.2.1:7400' },
        { pool: 'web', member: '10.0.1.11:8080', field: 'maxConnections', value: 50, at: T, by: '192.0.2.2:7400' }],
    },
    conntrack: null,
  };
}

describe('furiwake ctl ha', () => {
  it('says a fit node takes part in the election; the peer with its last full sync; who drained what, when', () => {
    assert.equal(haText(status()), [
      'role backup  interface eth0  router-id 17  priority 100',
      'vips 192.0.2.10',
      'keepalived running, pid 42, restarted 0 times',
      'fit: this node takes part in the election',
      '',
      'PEER            LINK  LAST FULL SYNC            SENT  RECEIVED  AUTH FAILURES',
      '192.0.2.1:7400  up    2026-12-02T08:00:00.000Z     3         5              0',
      '',
      'POOL  MEMBER          SET              TO     BY              AT',
      'web   10.0.1.12:8080  state            drain  192.0.2.1:7400  2026-12-02T08:00:01.000Z',
      'web   10.0.1.11:8080  max-connections  50     192.0.2.2:7400  2026-12-02T08:00:00.000Z',
      '',
      'AT                        FROM  TO      WHY',
      '2026-12-02T08:00:00.000Z  init  backup  keepalived starts as a backup; the election decides',
      '',
    ].join('\n'));
  });

  it('an unfit or handed-over node is not called fit; a link never synced says never', () => {
    const s = status();
    s.vrrp!.unfit = 'no usable member in pool web';
    s.sync!.peers[0] = { ...s.sync!.peers[0], connected: false, lastSync: null };
    s.sync!.operator = [];
    const text = haText(s);
    assert.match(text, /^unfit: no usable member in pool web$/m);
    assert.doesNotMatch(text, /^fit:/m);
    assert.match(text, /^192\.0\.2\.1:7400 {2}down {2}never /m);
    assert.doesNotMatch(text, /^POOL/m);
    s.vrrp!.unfit = null;
    s.vrrp!.handedOver = true;
    assert.doesNotMatch(haText(s), /^fit:/m);
    assert.match(haText(s), /^handed over: /m);
  });
});
