// Persistence with global.workers: 2, whichever worker accepts: source-ip and tls-session
// entries learned by one worker reach the other (through the main thread, whose table the admin
// API lists), an operator's deletion and an ha peer's entry reach both, cookies signed by one
// worker pin on the other, and an https session ticket issued by one worker resumes on the other.
// Real members and clients on loopback; clients come from several loopback addresses.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import type { HaConfig } from '../../src/config/ha-types.ts';
import { createLogger } from '../../src/log.ts';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import type { Config } from '../../src/config/types.ts';
import { startApp } from '../helpers/app.ts';
import { greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { handshake, memberCert, startTlsMember, type TlsMember } from '../helpers/openssl-tls.ts';
import { freePort } from '../helpers/ports.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';
import { call, startAdminApp } from '../admin/helpers.ts';
import { certDir, selfSigned } from '../proxy/http/certs.ts';
import { bodyOf, connection, httpConfig, startMember } from '../proxy/http/helpers.ts';
import { servedPerWorker } from './helpers.ts';

const SOURCE_IP: PersistenceConfig = { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 600_000, maxEntries: 1000 };
const TLS_SESSION: PersistenceConfig = { method: 'tls-session', whenFull: 'repin', timeout: 60_000, maxEntries: 1000 };

function withWorkers(config: Config): Config {
  return { ...config, global: { ...config.global, workers: 2 } };
}

/**
 * Every stick table change made so far has reached every thread. A worker sends its changes
 * before it answers a later message, and handles messages in order: so once the workers answered
 * (their entries are in the main thread's tables) and the relay sent on what it had, a second
 * answer from each worker means each has taken what it was sent.
 */
async function replicated(app: Furiwake): Promise<void> {
  // a connection's end refreshes its entry: a worker may end it after the client saw its last byte
  while ((await app.workers!.stats()).some((s) => s.connections > 0)) await new Promise((resolve) => setImmediate(resolve));
  await until(() => app.workers!.sticks.idle);
  await app.workers!.stats();
}

/** 127.0.0.2, 127.0.0.3, ...: one client per loopback address. */
const clients = (n: number): string[] => Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`);

let a: TcpServer;
let b: TcpServer;
before(async () => {
  [a, b] = await Promise.all([startTcpServer('a'), startTcpServer('b')]);
});

function sourceIpApp(admin = false) {
  const config = withWorkers(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }]), { persistence: SOURCE_IP }));
  return admin ? startAdminApp(config) : startApp(config).then((app) => ({ app, base: '' }));
}

describe('workers: 2, source-ip', () => {
  it('a client stays on its member whichever worker takes its next connection', async () => {
    const { app } = await sourceIpApp();
    const port = app.address('svc').port;
    const from = clients(8);
    const seen = new Map<string, Set<string>>(from.map((c) => [c, new Set()]));
    const before = await app.workers!.stats();
    for (let round = 0; round < 6; round++) {
      for (const c of from) seen.get(c)!.add(await greeting(port, c));
      await replicated(app);
    }
    for (const [c, members] of seen) assert.equal(members.size, 1, `${c} reached ${[...members].join(' and ')}`);
    // both workers took connections of the same clients (each worker on its own picks round-robin from a)
    const after = await app.workers!.stats();
    assert.ok(after.every((s, i) => s.connections === 0 && Object.values(s.served).reduce((x, y) => x + y, 0) > Object.values(before[i].served).reduce((x, y) => x + y, 0)));
    assert.deepEqual(new Set([...seen.values()].map((s) => [...s][0])), new Set(['a', 'b']));
  });

  it('a new client whose first connections reach both workers at the same instant is sent to one member', async () => {
    const { app } = await sourceIpApp();
    const port = app.address('svc').port;
    const from = clients(12);
    // no entry yet anywhere: each worker chooses for the client before it hears of the other's choice
    const members = await Promise.all(from.map(async (c) => new Set(await Promise.all(Array.from({ length: 6 }, () => greeting(port, c))))));
    const served = await servedPerWorker(app);
    assert.ok(served.every((n) => n > 0), `one worker took every client: ${served.join(', ')}`);
    members.forEach((set, i) => assert.equal(set.size, 1, `${from[i]} reached ${[...set].join(' and ')}`));
    // and the pool is still shared between the clients
    assert.equal(new Set(members.map((set) => [...set][0])).size, 2);
  });

  it("the API's stick table lists the entries either worker learned and counts their lookups, and an operator's deletion reaches both workers", async () => {
    const { app, base } = await sourceIpApp(true);
    const port = app.address('svc').port;
    const from = clients(12);
    for (const c of from) await greeting(port, c);
    const served = await servedPerWorker(app);
    assert.ok(served.every((n) => n > 0), `one worker took every client: ${served.join(', ')}`);
    await replicated(app);
    const page = await call(base, '/api/v1/stick-tables/svc?limit=100');
    assert.deepEqual(page.body.items.map((e: { key: string }) => e.key).sort(), [...from].sort());
    // the lookups are the workers': each client's first connection missed
    const [summary] = (await call(base, '/api/v1/stick-tables')).body;
    assert.deepEqual([summary.size, summary.hits, summary.misses], [12, 0, 12]);

    // a client pinned to a member being drained still reaches it, on either worker
    const pinned = new Map<string, string>(page.body.items.map((e: { key: string; member: string }) => [e.key, e.member]));
    const client = from.find((c) => pinned.get(c) === 'a')!;
    app.runtime.member('p', 'a')!.setAdmin('drain');
    await app.workers!.stats();
    for (let i = 0; i < 6; i++) assert.equal(await greeting(port, client), 'a');
    await replicated(app);
    assert.equal((await call(base, '/api/v1/stick-tables')).body[0].hits, 6);
    // once the operator deletes its entry, neither worker sends it there
    const deleted = await call(base, `/api/v1/stick-tables/svc/entries/${encodeURIComponent(client)}`, { method: 'DELETE' });
    assert.equal(deleted.status, 200);
    await replicated(app);
    const lines = [];
    const start = await servedPerWorker(app);
    for (let i = 0; i < 12; i++) lines.push(await greeting(port, client));
    assert.deepEqual(new Set(lines), new Set(['b']));
    const end = await servedPerWorker(app);
    assert.ok(end.every((n, i) => n > start[i]), 'both workers took the client after the deletion');
  });

  it("an ha peer's entry (adopted by the main thread's table) reaches both workers", async () => {
    const { app } = await sourceIpApp();
    const port = app.address('svc').port;
    app.runtime.services.get('svc')!.stickTable!.adopt('127.0.0.40', 'b', 60_000);
    app.runtime.services.get('svc')!.stickTable!.adopt('127.0.0.41', 'a', 60_000);
    await replicated(app);
    const start = await servedPerWorker(app);
    for (let i = 0; i < 8; i++) {
      assert.equal(await greeting(port, '127.0.0.40'), 'b');
      assert.equal(await greeting(port, '127.0.0.41'), 'a');
    }
    const end = await servedPerWorker(app);
    assert.ok(end.every((n, i) => n > start[i]), 'both workers took the clients');
  });

  it('a worker that replaces a dead one starts with the entries the others learned', async () => {
    const { app } = await sourceIpApp();
    const port = app.address('svc').port;
    const from = clients(8);
    const first = new Map<string, string>();
    for (const c of from) first.set(c, await greeting(port, c));
    await replicated(app);
    const replaced = once(app.workers!, 'replaced');
    await app.workers!.thread(0).terminate();
    await replaced;
    const start = await servedPerWorker(app);
    for (let round = 0; round < 4; round++) for (const c of from) assert.equal(await greeting(port, c), first.get(c), c);
    const end = await servedPerWorker(app);
    assert.ok(end.every((n, i) => n > start[i]), 'both workers took the clients');
  });
});

describe('workers: 2 and ha.sync', () => {
  const KEY = 'a-shared-key-of-32-characters-ok';
  function ha(listen: number, peer: number): HaConfig {
    const at = (port: number) => ({ host: '127.0.0.1', ip: '127.0.0.1', port });
    return { vrrp: false, interface: '', routerId: 0, priority: 100, advert: 1_000, preempt: true, peers: [], vips: null, sync: { listen: at(listen), peers: [at(peer)], key: KEY, tls: null }, conntrackSync: null };
  }

  it("the peer node gets the entries both workers learned, and the peer's entries reach both workers", async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const base = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }]), { persistence: SOURCE_IP });
    // node A serves with two workers, node B with one loop
    const nodeA = await startApp(withWorkers({ ...base, ha: ha(portA, portB) }));
    const nodeB = await Furiwake.start({ ...base, ha: ha(portB, portA) }, createLogger('silent'));
    after(() => nodeB.stop(0));
    const tableB = nodeB.runtime.services.get('svc')!.stickTable!;
    const from = clients(24);
    const chosen = new Map<string, string>();
    for (const c of from) chosen.set(c, await greeting(nodeA.address('svc').port, c));
    const served = await servedPerWorker(nodeA);
    // (each connection's worker is the kernel's hash of its addresses and ports: 24 clients all on one, 1 in 8 million)
    assert.ok(served.every((n) => n > 0), `one worker took every client: ${served.join(', ')}`);
    await until(() => from.every((c) => tableB.peek(c)?.member === chosen.get(c)));

    // a client node B chose for reaches the same member through node A, on either worker: even a
    // member node A drains (it takes no new client there, only those it is remembered for)
    const client = '127.0.0.60';
    const member = await greeting(nodeB.address('svc').port, client);
    nodeA.runtime.member('p', member)!.setAdmin('drain');
    await until(() => nodeA.runtime.services.get('svc')!.stickTable!.peek(client) !== undefined);
    await replicated(nodeA);
    const start = await servedPerWorker(nodeA);
    for (let i = 0; i < 8; i++) assert.equal(await greeting(nodeA.address('svc').port, client), member);
    const end = await servedPerWorker(nodeA);
    assert.ok(end.every((n, i) => n > start[i]), 'both workers took the client');
  });
});

describe('workers: 2, cookie', () => {
  it('a cookie one worker set (signed with the process secret) pins the client on the other', async () => {
    const members = await Promise.all(['m1', 'm2'].map((name) => startMember(name, (_req, res) => res.end(name))));
    const config = withWorkers(httpConfig(pool('round-robin', members.map((m) => ({ port: m.port, id: m.name })))));
    config.services.svc.persistence = {
      method: 'cookie', whenFull: 'repin', cookie: 'FWSRV', mode: 'insert', path: '/', domain: null, httpOnly: true, secure: false, sameSite: 'lax', maxAge: null, secret: null, exposeAddress: false,
    };
    const app = await startApp(config);
    const port = app.address('svc').port;
    const get = async (cookie: string | null): Promise<{ body: string; text: string }> => {
      const c = await connection(port);
      const text = await c.send(`GET / HTTP/1.1\r\nHost: shop.example\r\n${cookie === null ? '' : `Cookie: FWSRV=${cookie}\r\n`}\r\n`);
      await c.close();
      return { body: bodyOf(text), text };
    };
    const first = await get(null);
    const cookie = /\r\nset-cookie: *FWSRV=([^;\r]*)/i.exec(first.text)?.[1];
    assert.ok(cookie !== undefined, first.text);
    const start = await servedPerWorker(app);
    const bodies = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const got = await get(cookie);
      bodies.add(got.body);
      // a worker that cannot read the cookie chooses anew and sets another one
      assert.doesNotMatch(got.text, /\r\nset-cookie:/i);
    }
    assert.deepEqual(bodies, new Set([first.body]));
    const end = await servedPerWorker(app);
    assert.ok(end.every((n, i) => n > start[i]), 'both workers took the client');
  });
});

describe('workers: 2, tls-session (tcp, TLS passed through)', () => {
  let dir: string;
  let tlsMembers: TlsMember[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'furiwake-wtls-'));
    memberCert(dir);
    tlsMembers = await Promise.all(['a', 'b', 'c'].map((n) => startTlsMember(dir, n, true)));
  });
  after(async () => {
    await Promise.all(tlsMembers.map((m) => m.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumptions land on the member that holds the session, whichever worker takes them', async () => {
    const app = await startApp(withWorkers(single('tcp', pool('round-robin', tlsMembers.map((m) => ({ port: m.port, id: m.name }))), { persistence: TLS_SESSION })));
    const port = app.address('svc').port;
    const session = join(dir, 'session');
    assert.equal((await handshake(port, session, false)).reused, false);
    await replicated(app);
    // the member drained takes no new client: a worker that did not know the session would choose another
    const table = app.runtime.services.get('svc')!.stickTable!;
    const holder = table.entries()[0].member;
    app.runtime.member('p', holder)!.setAdmin('drain');
    const start = await servedPerWorker(app);
    for (let i = 0; i < 8; i++) {
      assert.equal((await handshake(port, session, true)).reused, true, `resumption ${i + 1}`);
      await replicated(app);
    }
    const end = await servedPerWorker(app);
    assert.ok(end.every((n, i) => n > start[i]), 'both workers took resumptions');
    const entries = table.entries();
    assert.ok(entries.length >= 1 && entries.every((e) => e.member === holder), JSON.stringify(entries));
  });
});

describe('workers: 2, https', () => {
  const certs = certDir();
  const cert = selfSigned(certs, 'www', ['www.example.test']);

  const other = selfSigned(certs, 'www2', ['www.example.test']);
  const tlsOf = (c: typeof cert) => ({ certificates: [{ certFile: c.cert, keyFile: c.key, cert: c.certPem, key: c.keyPem, names: ['www.example.test'] }], minVersion: 'TLSv1.2' as const, alpn: ['h2', 'http/1.1'] as ('h2' | 'http/1.1')[] });

  /** One TLS connection with one request; whether it resumed `session`, and the session to use next. */
  async function tlsRequest(port: number, session: Buffer | undefined, version: 'TLSv1.2' | 'TLSv1.3'): Promise<{ reused: boolean; session: Buffer | undefined }> {
    let next = session;
    const socket = tls.connect({ port, host: '127.0.0.1', servername: 'www.example.test', rejectUnauthorized: false, session, minVersion: version, maxVersion: version });
    socket.on('session', (s: Buffer) => (next = s));
    await once(socket, 'secureConnect');
    const reused = socket.isSessionReused();
    socket.end('GET / HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n');
    socket.resume();
    await once(socket, 'close');
    return { reused, session: next };
  }

  it('a session ticket resumes after a reload that changed the certificate', async () => {
    const m = await startMember('m');
    const config = withWorkers(httpConfig(pool('round-robin', [{ port: m.port, id: 'm' }]), { tls: tlsOf(cert) }));
    const app = await startApp(config);
    const port = app.address('svc').port;
    const first = await tlsRequest(port, undefined, 'TLSv1.3');
    assert.equal(first.reused, false);
    const next = withWorkers(httpConfig(pool('round-robin', [{ port: m.port, id: 'm' }]), { tls: tlsOf(other) }));
    assert.deepEqual(await app.reload(next), []);
    const again = await tlsRequest(port, first.session, 'TLSv1.3');
    assert.equal(again.reused, true);
    // a new client gets the new certificate
    const socket = tls.connect({ port, host: '127.0.0.1', servername: 'www.example.test', rejectUnauthorized: false });
    await once(socket, 'secureConnect');
    assert.equal(socket.getPeerX509Certificate()?.fingerprint256, new X509Certificate(other.certPem).fingerprint256);
    socket.destroy();
  });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`a ${version} session ticket one worker issued resumes on the other`, async () => {
      const m = await startMember('m');
      const app = await startApp(withWorkers(httpConfig(pool('round-robin', [{ port: m.port, id: 'm' }]), { tls: tlsOf(cert) })));
      const port = app.address('svc').port;
      let session: Buffer | undefined;
      const reused: boolean[] = [];
      const start = await servedPerWorker(app);
      for (let i = 0; i < 16; i++) {
        const got = await tlsRequest(port, session, version);
        reused.push(got.reused);
        session = got.session;
      }
      assert.deepEqual(reused, [false, ...Array(15).fill(true)]);
      const end = await servedPerWorker(app);
      assert.ok(end.every((n, i) => n > start[i]), 'both workers took handshakes');
    });
  }
});
