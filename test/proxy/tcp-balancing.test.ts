// Each algorithm over three real TCP servers, through a real tcp service.

import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startApp } from '../helpers/app.ts';
import { greeted, greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import type { Furiwake } from '../../src/app.ts';
import type { AlgorithmName } from '../../src/config/types.ts';

let servers: TcpServer[];
before(async () => {
  servers = await Promise.all(['a', 'b', 'c'].map((n) => startTcpServer(n)));
});

let app: Furiwake;
async function serviceFor(algorithm: AlgorithmName, weights = [1, 1, 1]): Promise<number> {
  app = await startApp(single('tcp', pool(algorithm, servers.map((s, i) => ({ port: s.port, id: s.name, weight: weights[i] })))));
  return app.address('svc').port;
}

async function sequence(port: number, n: number): Promise<string> {
  let out = '';
  for (let i = 0; i < n; i++) out += await greeting(port);
  return out;
}

function counts(text: string): Record<string, number> {
  const c: Record<string, number> = {};
  for (const ch of text) c[ch] = (c[ch] ?? 0) + 1;
  return c;
}

describeOnEachEngine('balancing over real servers', () => {
  it('round-robin takes the members in turn', async () => {
    assert.equal(await sequence(await serviceFor('round-robin'), 9), 'abcabcabc');
  });

  it('weighted-round-robin interleaves 5:1:1 smoothly', async () => {
    assert.equal(await sequence(await serviceFor('weighted-round-robin', [5, 1, 1]), 14), 'aabacaa'.repeat(2));
  });

  it('least-connections sends new connections to the least busy member', async () => {
    const port = await serviceFor('least-connections');
    const held = [];
    for (let i = 0; i < 6; i++) held.push(await greeted(port));
    assert.deepEqual(counts(held.map((h) => h.line).join('')), { a: 2, b: 2, c: 2 });
    // a member with fewer live connections wins: free two on b, the next two go to b
    const table = app.runtime.connections;
    for (const h of held.filter((x) => x.line === 'b')) h.socket.destroy();
    await table.atMost(4);
    const more = [await greeted(port), await greeted(port)];
    assert.deepEqual(more.map((h) => h.line), ['b', 'b']);
    for (const h of [...held, ...more]) h.socket.destroy();
  });

  it('weighted-least-connections fills members in proportion to weight', async () => {
    const port = await serviceFor('weighted-least-connections', [2, 1, 1]);
    const held = [];
    for (let i = 0; i < 8; i++) held.push(await greeted(port));
    assert.deepEqual(counts(held.map((h) => h.line).join('')), { a: 4, b: 2, c: 2 });
    for (const h of held) h.socket.destroy();
  });

  it('random-two reaches every member and balances held connections', async () => {
    const port = await serviceFor('random-two');
    const held = [];
    for (let i = 0; i < 30; i++) held.push(await greeted(port));
    const c = counts(held.map((h) => h.line).join(''));
    // with two choices, the busiest member is at most a few ahead of the least busy
    assert.equal(Object.keys(c).length, 3);
    assert.ok(Math.max(...Object.values(c)) - Math.min(...Object.values(c)) <= 4, JSON.stringify(c));
    for (const h of held) h.socket.destroy();
  });

  it('source-hash and maglev keep one client address on one member', async () => {
    for (const algorithm of ['source-hash', 'maglev'] as const) {
      const seen = counts(await sequence(await serviceFor(algorithm), 6));
      assert.equal(Object.keys(seen).length, 1, `${algorithm}: ${JSON.stringify(seen)}`);
    }
  });

  it('least-time serves every connection from the pool', async () => {
    const seen = counts(await sequence(await serviceFor('least-time'), 9));
    assert.equal(Object.values(seen).reduce((a, b) => a + b, 0), 9);
    for (const k of Object.keys(seen)) assert.ok(['a', 'b', 'c'].includes(k));
  });
});
