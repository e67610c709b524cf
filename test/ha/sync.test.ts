// The replication link between two furiwake nodes (ha.sync), both in this process on loopback:
// a client remembered on one node reaches the same member through the other; an operator's drain
// and a stick-table deletion reach the peer; a link that drops and comes back resynchronises; a
// node with the wrong key is refused, logged, and nothing it sends is applied.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import type { HaConfig } from '../../src/config/ha-types.ts';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import type { Config } from '../../src/config/types.ts';
import { followSync } from '../../src/ha/sync.ts';
import { encodeMessage, lengthPrefix, type SyncMessage } from '../../src/ha/sync-frame.ts';
import { createLogger } from '../../src/log.ts';
import type { StickTable } from '../../src/persistence/stick-table.ts';
import { adminConfig, TOKEN } from '../admin/helpers.ts';
import { logSink } from '../helpers/app.ts';
import { greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { freePort } from '../helpers/ports.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';
import { tempDir } from '../helpers/files.ts';
import { handshake, memberCert, startTlsMember } from '../helpers/openssl-tls.ts';
import { join } from 'node:path';

const KEY = 'a-shared-key-of-32-characters-ok';
const SOURCE_IP: PersistenceConfig = { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 600_000, maxEntries: 10_000 };

function ha(listen: number, peer: number, key = KEY): HaConfig {
  const at = (port: number) => ({ host: '127.0.0.1', ip: '127.0.0.1', port });
  return {
    vrrp: false, interface: '', routerId: 0, priority: 100, advert: 1_000, preempt: true, peers: [], vips: null,
    sync: { listen: at(listen), peers: [at(peer)], key, tls: null },
    conntrackSync: null,
  };
}

function nodeConfig(members: TcpServer[], listen: number, peer: number, persistence: PersistenceConfig = SOURCE_IP, key = KEY): Config {
  return {
    ...single('tcp', pool('round-robin', members.map((m) => ({ port: m.port, id: m.name }))), { persistence }),
    admin: adminConfig(),
    ha: ha(listen, peer, key),
  };
}

const apps: Furiwake[] = [];
after(() => Promise.all(apps.map((app) => app.stop(0))));

/** A node, stopped when the file ends. */
async function start(config: Config, log = createLogger('silent')): Promise<Furiwake> {
  const app = await Furiwake.start(config, log);
  apps.push(app);
  return app;
}

function tableOf(app: Furiwake): StickTable {
  return app.runtime.services.get('svc')!.persistence!.table!;
}

function connected(app: Furiwake): boolean {
  return app.haSync?.status().peers.some((p) => p.connected) === true;
}

describe('ha sync between two nodes', () => {
  let members: TcpServer[];
  let a: Furiwake;
  let b: Furiwake;
  let portA: number;
  let portB: number;

  before(async () => {
    members = [await startTcpServer('m1'), await startTcpServer('m2')];
    portA = await freePort();
    portB = await freePort();
    a = await start(nodeConfig(members, portA, portB));
    b = await start(nodeConfig(members, portB, portA));
    await until(() => connected(a) && connected(b));
  });

  it('a client remembered on A reaches the same member through B', async () => {
    const svcA = a.address('svc').port;
    const svcB = b.address('svc').port;
    // round-robin on A: the first client gets m1, the second m2; B would give its first client m1
    assert.equal(await greeting(svcA, '127.0.0.2'), 'm1');
    assert.equal(await greeting(svcA, '127.0.0.3'), 'm2');
    await until(() => tableOf(b).peek('127.0.0.3') !== undefined);
    assert.equal(await greeting(svcB, '127.0.0.3'), 'm2');
    // what B applied from A is not sent back (B's own connection above only refreshed its entry)
    assert.deepEqual(b.haSync!.state.flush().messages.flatMap((m) => (m.type === 'stick' ? m.entries.map((e) => e.key) : [])).filter((k) => k !== '127.0.0.3'), []);
    // the remaining expiry came along: not more than the table's timeout
    assert.ok(tableOf(b).peek('127.0.0.2')!.expiresIn <= SOURCE_IP.timeout);
    const row = a.haSync!.status().peers[0];
    assert.equal(row.peer, `127.0.0.1:${portB}`);
    assert.ok(row.sent >= 2);
    assert.ok(b.haSync!.status().peers[0].received >= 2);
  });

  it('an entry the operator deletes on A is deleted on B', async () => {
    assert.equal(await greeting(a.address('svc').port, '127.0.0.4'), 'm1');
    await until(() => tableOf(b).peek('127.0.0.4') !== undefined);
    // the end of the client's connection starts its entry's timeout again: let it end first
    await until(() => a.runtime.connections.size === 0);
    const res = await fetch(`http://127.0.0.1:${a.admin.address()!.port}/api/v1/stick-tables/svc/entries/${encodeURIComponent('127.0.0.4')}`, {
      method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 200, await res.text());
    await until(() => tableOf(b).peek('127.0.0.4') === undefined);
  });

  it('a member drained through A\'s API is drained on B, with who set it and when', async () => {
    const res = await fetch(`http://127.0.0.1:${a.admin.address()!.port}/api/v1/pools/p/members/m2`, {
      method: 'PATCH', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ state: 'drain', weight: 7 }),
    });
    assert.equal(res.status, 200, await res.text());
    const m2 = b.runtime.member('p', 'm2')!;
    await until(() => m2.admin === 'drain' && m2.configWeight === 7);
    const changes = b.haSync!.state.operatorChanges();
    assert.ok(changes.some((c) => c.member === 'm2' && c.field === 'state' && c.by === `127.0.0.1:${portA}`));
    const view = await (await fetch(`http://127.0.0.1:${b.admin.address()!.port}/api/v1/ha`)).json() as { sync: { peers: { peer: string; connected: boolean }[]; operator: { member: string; field: string; value: unknown; by: string }[] } };
    assert.deepEqual(view.sync.peers.map((p) => [p.peer, p.connected]), [[`127.0.0.1:${portA}`, true]]);
    assert.ok(view.sync.operator.some((c) => c.member === 'm2' && c.field === 'state' && c.value === 'drain' && c.by === `127.0.0.1:${portA}`));
    const metrics = await (await fetch(`http://127.0.0.1:${a.admin.address()!.port}/metrics`)).text();
    assert.match(metrics, new RegExp(`furiwake_ha_sync_connected\\{peer="127.0.0.1:${portB}"\\} 1`));
    assert.match(metrics, /furiwake_ha_sync_sent_total\{peer="127.0.0.1:\d+"\} [1-9]/);
    // the drained member keeps its persistent client on B too
    assert.equal(await greeting(b.address('svc').port, '127.0.0.3'), 'm2');
  });

  it('an operator who deletes the whole table on A while a client is connected empties B, and the client\'s end brings nothing back', async () => {
    // a client that stays connected through A
    const client = net.connect({ port: a.address('svc').port, host: '127.0.0.1', localAddress: '127.0.0.8' });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('data', resolve));
    await until(() => tableOf(b).peek('127.0.0.8') !== undefined);
    const res = await fetch(`http://127.0.0.1:${a.admin.address()!.port}/api/v1/stick-tables/svc/entries?all=true`, {
      method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 200, await res.text());
    await until(() => tableOf(b).size === 0);
    // the client leaves; a later client's entry reaches B after anything its end would have sent
    client.end();
    await until(() => a.runtime.connections.size === 0);
    assert.equal(await greeting(a.address('svc').port, '127.0.0.9'), 'm1');
    await until(() => tableOf(b).peek('127.0.0.9') !== undefined);
    assert.equal(tableOf(a).peek('127.0.0.8'), undefined);
    assert.equal(tableOf(b).peek('127.0.0.8'), undefined);
  });

  it('a link that drops and comes back resynchronises: entries made while it was down arrive', async () => {
    const config = b.haSync!.config;
    await b.haSync!.close();
    b.haSync = null;
    await until(() => !connected(a));
    assert.equal(await greeting(a.address('svc').port, '127.0.0.7'), 'm1');
    assert.equal(tableOf(b).peek('127.0.0.7'), undefined);
    b.haSync = (await followSync(null, config, b.runtime, b.log)).sync;
    await until(() => tableOf(b).peek('127.0.0.7') !== undefined);
    assert.equal(tableOf(b).peek('127.0.0.7')!.member, 'm1');
    await until(() => a.haSync!.status().peers[0].lastSync !== null && b.haSync!.status().peers[0].lastSync !== null);
  });

  it('an entry deleted on A while the link was down is deleted on B when it comes back, and B\'s resynchronisation does not bring it back to A', async () => {
    await greeting(a.address('svc').port, '127.0.0.10');
    await until(() => tableOf(b).peek('127.0.0.10') !== undefined && a.runtime.connections.size === 0);
    const config = b.haSync!.config;
    await b.haSync!.close();
    b.haSync = null;
    await until(() => !connected(a));
    const res = await fetch(`http://127.0.0.1:${a.admin.address()!.port}/api/v1/stick-tables/svc/entries/127.0.0.10`, {
      method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 200, await res.text());
    b.haSync = (await followSync(null, config, b.runtime, b.log)).sync;
    await until(() => connected(a) && connected(b));
    // an entry made on each node now follows that node's resynchronisation on the same link
    await greeting(a.address('svc').port, '127.0.0.11');
    await greeting(b.address('svc').port, '127.0.0.12');
    await until(() => tableOf(b).peek('127.0.0.11') !== undefined && tableOf(a).peek('127.0.0.12') !== undefined);
    assert.equal(tableOf(b).peek('127.0.0.10'), undefined);
    assert.equal(tableOf(a).peek('127.0.0.10'), undefined);
  });

  it('a reload that leaves ha.sync as it was keeps the link; one that changes it starts a new one', async () => {
    const link = a.haSync;
    assert.deepEqual(await a.reload(a.runtime.config!), []);
    assert.equal(a.haSync, link);
    const config = a.runtime.config!;
    assert.deepEqual(await a.reload({ ...config, ha: { ...config.ha!, sync: { ...config.ha!.sync!, key: `${KEY}-rotated` } } }), []);
    assert.notEqual(a.haSync, link);
    // B still holds the old key: refused both ways, until it is given the same
    await until(() => a.haSync!.status().peers[0].authFailures > 0);
    assert.deepEqual(await b.reload({ ...b.runtime.config!, ha: { ...b.runtime.config!.ha!, sync: { ...b.runtime.config!.ha!.sync!, key: `${KEY}-rotated` } } }), []);
    await until(() => connected(a) && connected(b));
  });

  it('a TLS session made through A resumes on the same member through B', async () => {
    const dir = await tempDir('furiwake-ha-tls-');
    memberCert(dir);
    const tlsMembers = await Promise.all(['t1', 't2'].map((n) => startTlsMember(dir, n, false)));
    after(() => Promise.all(tlsMembers.map((m) => m.close())));
    const port = await freePort();
    const peer = await freePort();
    const tls: PersistenceConfig = { method: 'tls-session', whenFull: 'repin', timeout: 600_000, maxEntries: 1000 };
    const specs = pool('round-robin', tlsMembers.map((m) => ({ port: m.port, id: m.name })));
    const nodeOf = (listen: number, to: number): Config => ({ ...single('tcp', specs, { persistence: tls }), ha: ha(listen, to) });
    const x = await start(nodeOf(port, peer));
    const y = await start(nodeOf(peer, port));
    await until(() => connected(x) && connected(y));
    // A's first client goes to t1, and so would B's: move B's round-robin on, so that only the replicated entry brings the client back to t1
    y.runtime.pools.get('p')!.acquire(0, null);
    const session = join(dir, 'session');
    const first = await handshake(x.address('svc').port, session, false);
    assert.equal(first.reused, false);
    const key = `id:${first.id.toLowerCase()}`;
    await until(() => tableOf(y).peek(key) !== undefined);
    // "Reused": only the member that made the session can resume it
    assert.equal((await handshake(y.address('svc').port, session, true)).reused, true);
    assert.equal(tableOf(y).peek(key)!.member, tableOf(x).peek(key)!.member);
  });
});

describe('ha sync with the wrong key', () => {
  it('refuses the peer, logs it, counts it, and applies nothing it sends', async () => {
    const members = [await startTcpServer('m1'), await startTcpServer('m2')];
    const portA = await freePort();
    const portC = await freePort();
    const { sink, lines } = logSink();
    const a = await start(nodeConfig(members, portA, portC), createLogger('info', sink));
    const c = await start(nodeConfig(members, portC, portA, SOURCE_IP, 'not-the-key-of-the-pair-0123456'));
    // an entry and an operator change on c, which it tries to send
    assert.equal(await greeting(c.address('svc').port, '127.0.0.9'), 'm1');
    c.runtime.member('p', 'm1')!.setAdmin('disabled');
    c.runtime.events.emit('operator', c.runtime.member('p', 'm1')!, { state: 'disabled' });
    await until(() => (a.haSync!.status().peers[0].authFailures ?? 0) >= 2);
    assert.ok(lines.some((l) => String(l.msg).includes('failed authentication')));
    assert.equal(tableOf(a).peek('127.0.0.9'), undefined);
    assert.equal(a.runtime.member('p', 'm1')!.admin, 'enabled');
    assert.equal(connected(a), false);
  });
});

describe('ha sync refuses what comes before authentication', () => {
  it('drops a connection that sends a stick frame instead of its answer, or a length out of bounds, and applies nothing', async () => {
    const members = [await startTcpServer('m1')];
    const portA = await freePort();
    const a = await start(nodeConfig(members, portA, await freePort()));
    const before = a.haSync!.status().peers[0].authFailures;
    const send = async (frames: Buffer[]): Promise<void> => {
      const socket = net.connect({ port: portA, host: '127.0.0.1' });
      socket.on('error', () => {});
      socket.resume();
      for (const f of frames) socket.write(f);
      await new Promise((resolve) => socket.on('close', resolve));
    };
    const frame = (m: SyncMessage): Buffer => {
      const body = encodeMessage(m);
      return Buffer.concat([lengthPrefix(body.length), body]);
    };
    await send([
      frame({ type: 'hello', version: 1, node: 'intruder', nonce: Buffer.alloc(32) }),
      frame({ type: 'stick', service: 'svc', entries: [{ key: '127.0.0.66', member: 'm1', expiresIn: 1000 }] }),
    ]);
    await send([Buffer.of(0xff, 0xff, 0xff, 0xff, 1)]);
    assert.equal(a.haSync!.status().peers[0].authFailures, before + 2);
    assert.equal(tableOf(a).peek('127.0.0.66'), undefined);
  });
});

describe('ha sync when a node stops', () => {
  it('the stopping node says its links went down at info; its peer warns', async () => {
    const members = [await startTcpServer('m1')];
    const portA = await freePort();
    const portB = await freePort();
    const a = logSink();
    const b = logSink();
    const nodeA = await Furiwake.start(nodeConfig(members, portA, portB), createLogger('info', a.sink));
    const nodeB = await start(nodeConfig(members, portB, portA), createLogger('info', b.sink));
    await until(() => connected(nodeA) && connected(nodeB));
    await nodeA.stop(0);
    await until(() => b.lines.some((l) => l.msg === 'ha sync: link down'));
    const levels = (lines: typeof a.lines, msg: string) => lines.filter((l) => l.msg === msg).map((l) => l.level);
    assert.deepEqual(levels(a.lines, 'ha sync: link down'), [30]);
    assert.deepEqual(levels(a.lines, 'ha sync: peer disconnected'), [30]);
    assert.deepEqual(levels(b.lines, 'ha sync: link down'), [40], 'the peer that stays warns: its peer is gone');
  });
});
