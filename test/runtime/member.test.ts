// A live member across reloads: what an operator or an agent set lasts unless the file changes it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startApp } from '../helpers/app.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';

describe('member across a reload', () => {
  it('keeps an operator\'s weight and limit while the file says the same; the file wins once it changes them', async () => {
    const a = await startTcpServer('a');
    const config = (weight: number, maxConnections: number) => single('tcp', pool('weighted-round-robin', [{ port: a.port, id: 'a', weight, maxConnections }]));
    const app = await startApp(config(1, 10));
    const m = app.runtime.member('p', 'a')!;
    m.setWeight(7); // as PATCH /api/v1/pools/p/members/a does
    m.setMaxConnections(3);

    assert.deepEqual(await app.reload(config(1, 10)), []);
    assert.equal(app.runtime.member('p', 'a'), m, 'the same live member');
    assert.equal(m.configWeight, 7);
    assert.equal(m.maxConnections, 3);

    assert.deepEqual(await app.reload(config(2, 10)), []);
    assert.equal(m.configWeight, 2, 'a new weight in the file wins');
    assert.equal(m.maxConnections, 3, 'the limit the file did not change stays');

    assert.deepEqual(await app.reload(config(2, 20)), []);
    assert.equal(m.maxConnections, 20);
    await a.close();
  });
});
