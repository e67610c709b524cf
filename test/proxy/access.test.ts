// `access: { allow, deny }` end to end, in one event loop and with two worker threads: a tcp
// client from a denied loopback address is closed before any member hears of it (by its peer
// address, or behind accept-proxy by the address its PROXY header names), a udp datagram from one
// is dropped, an http request gets 403 (by the client X-Forwarded-For names behind a trusted
// proxy, IPv4-mapped addresses as IPv4), a route's own access, and a reload that changes the
// lists for new clients while a live connection keeps flowing. Counted in the API (summed over
// the workers) and in /metrics.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { ServiceView } from '../../src/admin/schemas.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { proxyHeader } from '../../src/proxy/proxy-protocol.ts';
import { adminConfig, call, startAdminApp } from '../admin/helpers.ts';
import { startTcpServer, startUdpServer } from '../helpers/servers.ts';
import { bodyOf, startMember } from './http/helpers.ts';

const TIMEOUT = 60_000;

function config(workers: number, services: string, pools: string): Config {
  return parseConfig(`global: { log-level: silent, workers: ${workers} }\nservices:\n${services}\npools:\n${pools}\n`, 'access.yaml', {});
}

/** Connects from `from` (sending `first`, if any); the socket once a byte came back, or null when it was closed without one. */
function answered(port: number, from: string, first?: Buffer): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    if (first !== undefined) socket.on('connect', () => socket.write(first));
    socket.on('error', () => resolve(null));
    socket.once('data', () => resolve(socket));
    socket.on('close', () => resolve(null));
  });
}

async function greetedBy(port: number, from: string, first?: Buffer): Promise<boolean> {
  const socket = await answered(port, from, first);
  if (socket === null) return false;
  socket.destroy();
  return true;
}

async function service(base: string, name: string): Promise<ServiceView> {
  return (await call<ServiceView>(base, `/api/v1/services/${name}`)).body;
}

/** Reads the service through the API until `test` holds (a dropped datagram announces nothing else). */
async function serviceReaches(base: string, name: string, test: (s: ServiceView) => boolean): Promise<ServiceView> {
  for (;;) {
    const s = await service(base, name);
    if (test(s)) return s;
  }
}

/** One request on its own connection with `headers`; the whole response. */
async function get(port: number, path: string, headers: string): Promise<string> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.end(`GET ${path} HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n${headers}\r\n`);
  await once(socket, 'close');
  return text;
}

function status(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}

for (const workers of [1, 2]) {
  describe(`access with workers: ${workers}`, () => {
    it('tcp: a denied peer is closed before any member is chosen; deny wins over allow; a reload changes the lists for new clients only', { timeout: TIMEOUT }, async () => {
      const member = await startTcpServer('a');
      const pools = `  p: { members: [ { address: 127.0.0.1:${member.port} } ] }`;
      const first = config(workers, '  svc: { listen: 127.0.0.1:0, mode: tcp, pool: p, access: { allow: [ 127.0.0.0/8 ], deny: [ 127.0.0.2 ] } }', pools);
      const { app, base } = await startAdminApp(first);
      const port = app.address('svc').port;
      assert.equal(await greetedBy(port, '127.0.0.1'), true);
      assert.equal(await greetedBy(port, '127.0.0.3'), true);
      for (let i = 0; i < 4; i++) assert.equal(await greetedBy(port, '127.0.0.2'), false);
      assert.equal(member.accepted, 2);
      assert.equal((await service(base, 'svc')).denied, 4);
      // a live connection from 127.0.0.1 outlives a reload that denies its address
      const live = (await answered(port, '127.0.0.1'))!;
      const second = config(workers, '  svc: { listen: 127.0.0.1:0, mode: tcp, pool: p, access: { deny: [ 127.0.0.1/32 ] } }', pools);
      // the same admin section as at start, so the admin plane stays where it is
      second.admin = adminConfig();
      assert.deepEqual(await app.reload(second), []);
      assert.equal(await greetedBy(port, '127.0.0.1'), false);
      assert.equal(await greetedBy(port, '127.0.0.2'), true);
      assert.equal(live.closed, false);
      live.destroy();
      assert.equal((await service(base, 'svc')).denied, 5);
      const metrics = (await call<string>(base, '/metrics')).body;
      assert.match(metrics, /furiwake_service_denied_total\{service="svc"\} 5/);
    });

    it('tcp behind accept-proxy: the client the PROXY header names is checked, not the balancer in front', { timeout: TIMEOUT }, async () => {
      const member = await startTcpServer('a');
      const { app, base } = await startAdminApp(config(workers,
        '  svc: { listen: 127.0.0.1:0, mode: tcp, pool: p, accept-proxy: true, access: { deny: [ 10.9.0.0/16, "2001:db8:9::/48" ] } }',
        `  p: { members: [ { address: 127.0.0.1:${member.port} } ] }`));
      const port = app.address('svc').port;
      const vip = { address: '127.0.0.1', port };
      const header = (address: string): Buffer => proxyHeader('v2', 'tcp', { address, port: 40000 }, address.includes(':') ? { address: '2001:db8::1', port } : vip);
      assert.equal(await greetedBy(port, '127.0.0.1', header('10.9.3.4')), false);
      assert.equal(await greetedBy(port, '127.0.0.1', header('2001:db8:9::7')), false);
      assert.equal(await greetedBy(port, '127.0.0.1', header('10.8.3.4')), true);
      assert.equal(await greetedBy(port, '127.0.0.1', header('2001:db8:8::7')), true);
      assert.equal(member.accepted, 2);
      assert.equal((await service(base, 'svc')).denied, 2);
    });

    it('udp: a datagram from a denied client is dropped and counted under its reason; others pass', { timeout: TIMEOUT }, async () => {
      const member = await startUdpServer('u');
      const { app, base } = await startAdminApp(config(workers,
        '  svc: { listen: 127.0.0.1:0, mode: udp, pool: p, access: { deny: [ 127.0.0.2/32 ] } }',
        `  p: { members: [ { address: 127.0.0.1:${member.port} } ] }`));
      const port = app.address('svc').port;
      const denied = dgram.createSocket('udp4');
      const allowed = dgram.createSocket('udp4');
      // closed whatever happens: an open socket would keep the test file's process alive
      try {
        denied.bind(0, '127.0.0.2');
        await once(denied, 'listening');
        const answered: string[] = [];
        denied.on('message', (m) => answered.push(String(m)));
        for (let i = 0; i < 3; i++) denied.send(`no ${i}`, port, '127.0.0.1');
        // (with workers the drops are read live from shared memory, `denied` from each worker's report
        // when asked: one answer may see the drops before the report that counts them)
        const s = await serviceReaches(base, 'svc', (v) => v.dropped?.denied === 3 && v.denied === 3);
        assert.equal(s.denied, 3);
        allowed.bind(0, '127.0.0.1');
        await once(allowed, 'listening');
        const reply = once(allowed, 'message');
        allowed.send('yes', port, '127.0.0.1');
        assert.equal(String((await reply)[0]), 'u:yes');
        assert.deepEqual(member.from.map((f) => f.split(':')[0]), ['127.0.0.1']);
        const metrics = (await call<string>(base, '/metrics')).body;
        assert.match(metrics, /furiwake_udp_datagrams_dropped_total\{service="svc",reason="denied"\} 3/);
        assert.deepEqual(answered, [], 'a denied client got an answer');
      } finally {
        denied.close();
        allowed.close();
      }
    });

    it('http: 403 by the client X-Forwarded-For names behind a trusted proxy, IPv4-mapped as IPv4; a route\'s own access', { timeout: TIMEOUT }, async () => {
      const web = await startMember('web');
      const admin = await startMember('admin');
      const { app, base } = await startAdminApp(config(workers, `  www:
    listen: 127.0.0.1:0
    mode: http
    pool: web
    trusted-proxies: [ 127.0.0.1 ]
    access: { deny: [ 192.0.2.0/24, "2001:db8:bad::/48" ] }
    routes:
      - { name: admin, match: { path-prefix: /admin/ }, pool: admin, access: { allow: [ 10.0.0.0/8 ] } }
      - { name: open, match: { path-prefix: /open/ }, pool: admin }`,
      `  web: { members: [ { address: 127.0.0.1:${web.port} } ] }
  admin: { members: [ { address: 127.0.0.1:${admin.port} } ] }`));
      const port = app.address('www').port;
      const xff = (client: string): string => `X-Forwarded-For: ${client}\r\n`;
      assert.equal(status(await get(port, '/', xff('192.0.2.7'))), 403);
      assert.equal(status(await get(port, '/', xff('::ffff:192.0.2.8'))), 403);
      assert.equal(status(await get(port, '/', xff('2001:db8:bad::1'))), 403);
      assert.equal(bodyOf(await get(port, '/', xff('198.51.100.1'))), 'web GET /');
      // the route admits only 10/8; the service's deny comes first
      assert.equal(status(await get(port, '/admin/x', xff('198.51.100.1'))), 403);
      assert.equal(status(await get(port, '/admin/x', xff('192.0.2.1'))), 403);
      assert.equal(bodyOf(await get(port, '/admin/x', xff('10.1.2.3'))), 'admin GET /admin/x');
      assert.equal(bodyOf(await get(port, '/open/x', xff('198.51.100.1'))), 'admin GET /open/x');
      // without a trusted proxy's word the peer (127.0.0.1) is the client: let in
      assert.equal(web.requests.length, 1);
      const s = await serviceReaches(base, 'www', (v) => v.denied === 4);
      const route = s.routes!.find((r) => r.name === 'admin')!;
      assert.equal(route.denied, 1);
      assert.equal(route.requests, 2);
      const metrics = (await call<string>(base, '/metrics')).body;
      assert.match(metrics, /furiwake_route_denied_total\{service="www",route="admin"\} 1/);
    });
  });
}
