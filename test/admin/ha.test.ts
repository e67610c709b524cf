// The API of a node of an active/standby pair as the dashboard reads it: GET /api/v1/ha answers
// the node's status, POST /api/v1/ha/handover the node after the change, and status.ha says
// whether there is a pair to read (the 404 without one is in api.test.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { haStatusSchema } from '../../src/admin/schemas.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { call, startAdminApp } from './helpers.ts';
import { adminWithHa, StandInHaNode } from './ha-node.ts';

async function paired() {
  const a = await startTcpServer('a');
  const { app, base: plain } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
  const node = new StandInHaNode();
  return { plain, node, base: await adminWithHa(app, node) };
}

describe('admin API: a node of a pair', () => {
  it('GET answers the node\'s status in the HaStatus shape; status.ha says there is one', async () => {
    const { base, plain, node } = await paired();
    const { status, body } = await call(base, '/api/v1/ha');
    assert.equal(status, 200);
    assert.deepEqual(body, node.status());
    haStatusSchema.parse(body);
    assert.equal((await call(base, '/api/v1/status')).body.ha, true);
    assert.equal((await call(plain, '/api/v1/status')).body.ha, false);
    node.present = false;
    assert.equal((await call(base, '/api/v1/status')).body.ha, false);
    assert.equal((await call(base, '/api/v1/ha')).status, 404);
  });

  it('POST handover answers the node after the change', async () => {
    const { base, node } = await paired();
    const done = await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: true } });
    assert.equal(done.status, 200);
    assert.deepEqual([done.body.vrrp.role, done.body.vrrp.handedOver], ['fault', true]);
    const back = await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: false } });
    assert.deepEqual([back.body.vrrp.role, back.body.vrrp.handedOver], ['master', false]);
    assert.deepEqual(node.asked, [true, false]);
  });

  it('POST handover without a VRRP state: 409 that says why — keepalived not running, or no VRRP configured', async () => {
    const { base, node } = await paired();
    node.current.vrrp = null;
    const starting = await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: true } });
    assert.equal(starting.status, 409);
    assert.match(starting.body.error, /keepalived is not running/);
    node.vrrp = false;
    const none = await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: true } });
    assert.equal(none.status, 409);
    assert.match(none.body.error, /no interface and router-id/);
    assert.deepEqual(node.asked, []);
  });
});
