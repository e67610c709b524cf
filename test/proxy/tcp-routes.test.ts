// Routes of a tcp service end to end, in one event loop and with two worker threads: one VIP
// passes TLS through to pools by the server name of the ClientHello (exact, wildcard, regex),
// without terminating it — each member is an https server with its own certificate that answers
// with its name and the name it was asked for; curl with --resolve reaches them by name. A client
// that sends no name goes to the service's pool, a deny route closes the connection, a
// client-network route takes a client by its source address, a client that sends no TLS goes to
// the service's pool. Per-route counters in the API.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { ServiceView } from '../../src/admin/schemas.ts';
import { parseConfig } from '../../src/config/load.ts';
import { call, startAdminApp } from '../admin/helpers.ts';
import { atEnd } from '../helpers/cleanup.ts';
import { until } from '../helpers/wait.ts';
import { certDir, selfSigned } from './http/certs.ts';

const run = promisify(execFile);
const TIMEOUT = 60_000;

interface TlsMember {
  server: https.Server;
  port: number;
  /** TCP connections accepted (a TLS handshake or not) */
  connections: number;
}

/** An https server presenting its own certificate for `names`; it answers `name sni` (the name the client asked for, '-' for none). */
async function tlsMember(dir: string, name: string, names: string[]): Promise<TlsMember> {
  const cert = selfSigned(dir, name, names);
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    res.end(`${name} ${(req.socket as import('node:tls').TLSSocket).servername || '-'}`);
  });
  const member: TlsMember = { server, port: 0, connections: 0 };
  server.on('connection', () => member.connections++);
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  member.port = (server.address() as net.AddressInfo).port;
  atEnd(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  return member;
}

/** curl to `name` on the VIP (resolved to 127.0.0.1; an address is sent no SNI); the body, or null when the connection failed. */
async function curl(port: number, name: string, from?: string): Promise<string | null> {
  const args = ['-sk', '--max-time', '10', '--resolve', `${name}:${port}:127.0.0.1`, ...(from === undefined ? [] : ['--interface', from]), `https://${name}:${port}/`];
  try {
    return (await run('curl', args)).stdout;
  } catch {
    return null;
  }
}

for (const workers of [1, 2]) {
  describe(`tcp routes with workers: ${workers}`, () => {
    it('one VIP passes TLS through to two pools by server name; no name: the service pool; deny; client network; not TLS: the service pool', { timeout: TIMEOUT }, async () => {
      const dir = certDir();
      const a = await tlsMember(dir, 'a', ['a.test', 'api7.test']);
      const b = await tlsMember(dir, 'b', ['b.test', '*.b.test']);
      const d = await tlsMember(dir, 'd', ['default.test']);
      const config = parseConfig(`global: { log-level: silent, workers: ${workers} }
services:
  vip:
    listen: 127.0.0.1:0
    mode: tcp
    pool: d
    timeouts: { connect: 2s }
    routes:
      - { name: a, match: { sni: a.test }, pool: a }
      - { name: b, match: { sni: [ b.test, "*.b.test" ] }, pool: b }
      - { name: api, match: { sni-regex: "^api[0-9]+\\\\.test$" }, pool: a }
      - { name: blocked, match: { sni: blocked.test }, deny: true }
      - { name: office, match: { client-network: 127.0.0.2/32 }, pool: b }
      - { name: lab, match: { client-network: 127.0.0.3/32 }, pool: a, access: { deny: [ 127.0.0.3 ] } }
pools:
  a: { members: [ { address: 127.0.0.1:${a.port} } ] }
  b: { members: [ { address: 127.0.0.1:${b.port} } ] }
  d: { members: [ { address: 127.0.0.1:${d.port} } ] }
`, 'tcp-routes.yaml', {});
      const { app, base } = await startAdminApp(config);
      const port = app.address('vip').port;
      // by name: each member terminates TLS and saw the name the client asked for
      assert.equal(await curl(port, 'a.test'), 'a a.test');
      assert.equal(await curl(port, 'b.test'), 'b b.test');
      assert.equal(await curl(port, 'www.B.test'), 'b www.b.test');
      assert.equal(await curl(port, 'api7.test'), 'a api7.test');
      assert.equal(await curl(port, 'other.test'), 'd other.test');
      // no server name (curl sends none to an address): the service's pool
      assert.equal(await curl(port, '127.0.0.1'), 'd -');
      // deny: closed before any member hears of it
      const before = a.connections + b.connections + d.connections;
      assert.equal(await curl(port, 'blocked.test'), null);
      assert.equal(a.connections + b.connections + d.connections, before);
      // by the client's address, whatever the name
      assert.equal(await curl(port, '127.0.0.1', '127.0.0.2'), 'b -');
      assert.equal(await curl(port, 'd.test', '127.0.0.2'), 'b d.test');
      // a route's access: 127.0.0.3 matches lab, which denies it
      assert.equal(await curl(port, 'x.test', '127.0.0.3'), null);
      assert.equal(a.connections + b.connections + d.connections, before + 2);
      // not TLS: the service's pool at once, the bytes passed on as they came
      const plain = net.connect({ port, host: '127.0.0.1' });
      plain.on('error', () => {});
      plain.end('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n');
      plain.resume();
      await once(plain, 'close');
      assert.equal(d.connections, 3);
      const view = (await call<ServiceView>(base, '/api/v1/services/vip')).body;
      const counts = Object.fromEntries(view.routes!.map((r) => [r.name, [r.connections, r.denied]]));
      assert.deepEqual(counts, { a: [1, 0], b: [2, 0], api: [1, 0], blocked: [1, 1], office: [2, 0], lab: [1, 1] });
      const metrics = (await call<string>(base, '/metrics')).body;
      assert.match(metrics, /furiwake_route_connections_total\{service="vip",route="b"\} 2/);
    });

    it('a client that sends nothing goes to the service pool once timeouts.connect is over', { timeout: TIMEOUT }, async () => {
      const dir = certDir();
      const a = await tlsMember(dir, 'a', ['a.test']);
      const d = await tlsMember(dir, 'd', ['default.test']);
      const { app } = await startAdminApp(parseConfig(`global: { log-level: silent, workers: ${workers} }
services:
  vip: { listen: 127.0.0.1:0, mode: tcp, pool: d, timeouts: { connect: 200ms }, routes: [ { name: a, match: { sni: a.test }, pool: a } ] }
pools:
  a: { members: [ { address: 127.0.0.1:${a.port} } ] }
  d: { members: [ { address: 127.0.0.1:${d.port} } ] }
`, 'tcp-routes.yaml', {}));
      const silent = net.connect({ port: app.address('vip').port, host: '127.0.0.1' });
      silent.on('error', () => {});
      await once(silent, 'connect');
      // the member's connection is the event: it comes once the wait for a ClientHello is over
      await until(() => d.connections === 1, d.server, 'connection');
      assert.equal(a.connections, 0);
      silent.destroy();
    });
  });
}
