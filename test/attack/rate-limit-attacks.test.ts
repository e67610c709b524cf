// Rate limits attacked from outside: the slowest rates the config takes, header keys of 8 KiB of
// raw 8-bit bytes, and clients from many loopback addresses filling a small table. furiwake keeps
// answering with valid heads, counts what it refuses, and serves the keys it already holds.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { startApp } from '../helpers/app.ts';
import { raw, startMember } from '../proxy/http/helpers.ts';

async function vip(limit: string): Promise<{ port: number; requests: () => number; counters: () => { passed: number; refused: number; full: number } }> {
  const member = await startMember('web');
  const app = await startApp(parseConfig(`global: { log-level: silent }
services:
  www: { listen: 127.0.0.1:0, mode: http, pool: web, rate-limit: ${limit} }
pools:
  web: { members: [ { address: 127.0.0.1:${member.port} } ] }
`, 'rate.yaml', {}));
  const limits = app.runtime.services.get('www')!.rateLimits!;
  return { port: app.address('www').port, requests: () => member.requests.length, counters: () => limits.requests!.table.counters };
}

/** The status and Retry-After of one request on its own connection (latin1 `extra` header lines). */
async function ask(port: number, extra = ''): Promise<{ status: number; retryAfter: string | null }> {
  const r = await raw(port, Buffer.from(`GET / HTTP/1.1\r\nHost: a.test\r\n${extra}Connection: close\r\n\r\n`, 'latin1'));
  return { status: r.status, retryAfter: /\r\nretry-after: ([^\r]*)\r\n/i.exec(r.text)?.[1] ?? null };
}

it('says Retry-After in whole seconds (digits only), however slow the rate', async () => {
  for (const rate of ['0.0000001/h', '0.00000000000000000001/h', '0.000000000000000000000000000000000000001/h']) {
    const { port } = await vip(`{ requests: ${rate} }`);
    assert.equal((await ask(port)).status, 200);
    const refused = await ask(port);
    assert.equal(refused.status, 429);
    assert.match(refused.retryAfter ?? '', /^[1-9]\d{0,9}$/, `${rate}: Retry-After ${refused.retryAfter}`);
  }
});

it('counts 8 KiB header keys of raw 8-bit bytes apart, each in its own bucket', async () => {
  const { port, requests } = await vip('{ requests: 1/h, by: header X-Api-Key }');
  const key = (b: number): string => `X-Api-Key: ${String.fromCharCode(0x80 + b).repeat(8000)}${'\xff'.repeat(b)}\r\n`;
  assert.deepEqual([(await ask(port, key(1))).status, (await ask(port, key(1))).status], [200, 429]);
  assert.deepEqual([(await ask(port, key(2))).status, (await ask(port, key(2))).status], [200, 429]);
  assert.equal(requests(), 2);
});

it('a flood of new client addresses fills a small table: the new ones get 429 and are counted, the ones it holds keep their buckets', async () => {
  const { port, requests, counters } = await vip('{ requests: 1/h, burst: 2, table-size: 16 }');
  // the first address takes a token and keeps one
  assert.equal((await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).status, 200);
  const statuses: number[] = [];
  for (let i = 2; i < 80; i++) statuses.push(await statusFrom(port, `127.0.${i >> 8}.${i & 255}`));
  const passed = statuses.filter((s) => s === 200).length;
  // a table of 16 keys has 32 slots: at most that many keys at once, every other address refused
  assert.ok(passed >= 15 && passed <= 32, `${passed} passed`);
  assert.equal(passed + statuses.filter((s) => s === 429).length, statuses.length);
  assert.ok(counters().full > 0);
  // the first client still has its second token
  assert.equal(await statusFrom(port, '127.0.0.1'), 200);
  assert.equal(requests(), passed + 2);
});

async function statusFrom(port: number, from: string): Promise<number> {
  const { default: http } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, localAddress: from, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
  });
}
