// The API of a node of an active/standby pair: GET /api/v1/ha answers this node's status (404
// without an ha section) and POST /api/v1/ha/handover hands the VIPs over with the token.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { haStatusSchema } from '../../src/admin/api-ha.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { call, startAdminApp } from './helpers.ts';
import { StandInHaNode } from './ha-node.ts';

async function app() {
  const a = await startTcpServer('a');
  const started = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
  return started;
}

describe('admin API: ha', () => {
  it('no ha section: 404 for both routes, saying so', async () => {
    const { base } = await app();
    const read = await call(base, '/api/v1/ha');
    assert.equal(read.status, 404);
    assert.equal(read.body.error, 'this furiwake is not part of a pair: the config has no ha section');
    assert.equal((await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: true } })).status, 404);
  });

  it('GET answers the node\'s status in the HaStatus shape', async () => {
    const { app: furiwake, base } = await app();
    const node = new StandInHaNode();
    furiwake.ha = node;
    const { status, body } = await call(base, '/api/v1/ha');
    assert.equal(status, 200);
    assert.deepEqual(body, node.status());
    haStatusSchema.parse(body);
  });

  it('POST handover needs the token, checks its body, and answers the node after the change', async () => {
    const { app: furiwake, base } = await app();
    const node = new StandInHaNode();
    furiwake.ha = node;
    assert.equal((await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: true }, token: null })).status, 401);
    const bad = await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: 'yes' } });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /expected true \(hand the VIPs to the peer\) or false \(take them back\)/);
    assert.deepEqual(node.asked, []);
    const done = await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: true } });
    assert.equal(done.status, 200);
    assert.deepEqual([done.body.vrrp.role, done.body.vrrp.handedOver], ['backup', true]);
    const back = await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: false } });
    assert.deepEqual([back.body.vrrp.role, back.body.vrrp.handedOver], ['master', false]);
    assert.deepEqual(node.asked, [true, false]);
  });

  it('a handover the node refuses is a 409 with its reason', async () => {
    const { app: furiwake, base } = await app();
    const node = new StandInHaNode();
    node.handover = () => Promise.reject(new Error('keepalived is not running; it restarts in 1s'));
    furiwake.ha = node;
    const refused = await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: true } });
    assert.deepEqual([refused.status, refused.body.error], [409, 'keepalived is not running; it restarts in 1s']);
  });
});
