// on-member-down: the live traffic of a member that stops serving (disabled, marked down, removed
// by a reload) leaves it — a udp client's next datagram goes to another member (persistence
// re-pins), a tcp connection is reset with `close`, an http request in flight is retried elsewhere
// (GET) or answered 502 (POST). `keep` and draining move nothing.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { onMemberDownFor } from '../../src/runtime/member-down.ts';
import { startApp } from '../helpers/app.ts';
import { atEnd } from '../helpers/cleanup.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { startTcpServer, startUdpServer, type TcpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';
import { onlyIssue, withService } from '../config/refused.ts';
import { bodyOf, httpConfig, raw, startMember } from './http/helpers.ts';

const sourceIp32 = { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 60_000, maxEntries: 1000 } as PersistenceConfig;

/** A udp client on one fixed source port: each ask() sends a datagram and returns the answering member's name. */
async function fixedPortClient(port: number): Promise<{ ask(text: string): Promise<string> }> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  atEnd(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return {
    async ask(text: string): Promise<string> {
      const reply = once(socket, 'message') as Promise<[Buffer]>;
      socket.send(text, port, '127.0.0.1');
      const [msg] = await reply;
      const s = msg.toString();
      return s.slice(0, s.indexOf(':'));
    },
  };
}

describe('on-member-down over udp', () => {
  async function start(extraPool: Parameters<typeof pool>[3] = {}, persistence: PersistenceConfig | null = null) {
    const servers = await Promise.all(['a', 'b'].map((n) => startUdpServer(n)));
    const config = single('udp', pool('round-robin', servers.map((s) => ({ port: s.port, id: s.name })), {}, extraPool), { persistence });
    const app = await startApp(config);
    const client = await fixedPortClient(app.address('svc').port);
    for (let i = 0; i < 3; i++) assert.equal(await client.ask(`x${i}`), 'a');
    return { app, client, config, a: app.runtime.member('p', 'a')! };
  }

  it('reselect (the default): a disabled member\'s flow moves on its next datagram; source-ip re-pins', async () => {
    const { app, client, a } = await start({}, sourceIp32);
    a.setAdmin('disabled');
    assert.equal(a.active, 0); // the old flow (and its upstream socket) closed at once
    for (let i = 0; i < 3; i++) assert.equal(await client.ask(`y${i}`), 'b');
    const service = app.runtime.services.get('svc')!;
    assert.equal(service.stickTable!.peek(service.persistence!.clientKey('127.0.0.1')!)?.member, 'b');
    assert.equal(app.runtime.connections.size, 1);
  });

  it('reselect: a member marked down loses its flow too', async () => {
    const { client, a } = await start();
    a.setHealth('down', 'test');
    assert.equal(await client.ask('y'), 'b');
  });

  it('reselect: a member a reload removed loses its flow', async () => {
    const { app, client, config } = await start();
    const p = config.pools.p;
    await app.reload({ ...config, pools: { p: { ...p, members: p.members.filter((m) => m.id !== 'a') } } });
    assert.equal(await client.ask('y'), 'b');
  });

  it('close means the same for udp: the next datagram starts a flow on another member', async () => {
    const { client, a } = await start({ onMemberDown: 'close' });
    a.setAdmin('disabled');
    assert.equal(await client.ask('y'), 'b');
  });

  it('keep: the flow stays on its disabled member', async () => {
    const { client, a } = await start({ onMemberDown: 'keep' });
    a.setAdmin('disabled');
    assert.equal(await client.ask('y'), 'a');
  });

  it('draining moves nothing', async () => {
    const { client, a } = await start();
    a.setAdmin('drain');
    assert.equal(await client.ask('y'), 'a');
    assert.equal(a.traffic.size, 1);
  });
});

/** A connection to the VIP once the member's greeting line arrived; `closed` says how it ended. */
async function held(port: number): Promise<{ socket: net.Socket; line: string; closed: Promise<string> }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const closed = new Promise<string>((resolve) => {
    let code = 'end';
    socket.on('error', (err: NodeJS.ErrnoException) => (code = err.code ?? 'error'));
    socket.on('close', () => resolve(code));
  });
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  return { socket, line: chunk.toString().trim(), closed };
}

describeOnEachEngine('on-member-down over tcp', () => {
  async function start(extraPool: Parameters<typeof pool>[3]) {
    const servers = await Promise.all(['a', 'b'].map((n) => startTcpServer(n)));
    const app = await startApp(single('tcp', pool('round-robin', servers.map((s) => ({ port: s.port, id: s.name })), {}, extraPool)));
    return { app, port: app.address('svc').port, a: app.runtime.member('p', 'a')! };
  }

  it('close: the connections of a disabled member are reset, the others stay', async () => {
    const { app, port, a } = await start({ onMemberDown: 'close' });
    const one = await held(port);
    const two = await held(port);
    assert.deepEqual([one.line, two.line], ['a', 'b']);
    a.setAdmin('disabled');
    assert.equal(await one.closed, 'ECONNRESET');
    await until(() => app.runtime.connections.size === 1);
    two.socket.end(); // b's still connected: its member ends when the client does
    assert.equal(await two.closed, 'end');
  });

  it('keep (the default): a disabled member keeps its connections', async () => {
    const { port, a } = await start({});
    const one = await held(port);
    assert.equal(one.line, 'a');
    a.setAdmin('disabled');
    assert.equal(a.traffic.size, 0); // keep: not even indexed
    one.socket.end();
    assert.equal(await one.closed, 'end');
  });
});

/** A member that accepts and reads, and answers only when told (or never). */
async function frozenMember(): Promise<{ server: TcpServer; gotRequest: Promise<net.Socket> }> {
  let got!: (s: net.Socket) => void;
  const gotRequest = new Promise<net.Socket>((resolve) => (got = resolve));
  const server = await startTcpServer('frozen', (socket) => {
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (text.includes('\r\n\r\n')) got(socket);
    });
  });
  return { server, gotRequest };
}

describeOnEachEngine('on-member-down over http', () => {
  async function start(extraPool: Parameters<typeof pool>[3] = {}) {
    const frozen = await frozenMember();
    const b = await startMember('b');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: frozen.server.port, id: 'a' }, { port: b.port, id: 'b' }], {}, extraPool)));
    return { app, port: app.address('svc').port, frozen, b, a: app.runtime.member('p', 'a')! };
  }

  it('reselect (the default): a GET in flight on a member that is disabled is answered by another', async () => {
    const { port, frozen, a } = await start();
    const answer = raw(port, 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    await frozen.gotRequest;
    a.setAdmin('disabled');
    const got = await answer;
    assert.equal(got.status, 200);
    assert.equal(bodyOf(got.text), 'b GET /x');
    assert.equal(a.active, 0);
    assert.equal(a.failed, 0); // disabled, not failed
  });

  it('reselect: a POST in flight on a member marked down gets a 502, not sent twice', async () => {
    const { port, frozen, b, a } = await start();
    const answer = raw(port, 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi');
    await frozen.gotRequest;
    a.setHealth('down', 'test');
    const got = await answer;
    assert.equal(got.status, 502);
    assert.match(bodyOf(got.text), /the member stopped serving/);
    assert.equal(b.requests.length, 0);
  });

  // keep: the request stays with its disabled member; draining moves nothing. Either way the
  // member still answers the request it has.
  for (const [title, policy, admin] of [
    ['keep: the request stays with its disabled member, which still answers it', 'keep', 'disabled'],
    ['draining moves nothing: the request in flight is answered by its member', null, 'drain'],
  ] as const) {
    it(title, async () => {
      const { port, frozen, a } = await start({ onMemberDown: policy });
      const answer = raw(port, 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
      const socket = await frozen.gotRequest;
      a.setAdmin(admin);
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfrozen');
      assert.equal(bodyOf((await answer).text), 'frozen');
    });
  }

  it('kept member connections to a member that stops serving are closed', async () => {
    const b = await startMember('b');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: b.port, id: 'b' }])));
    const got = await raw(app.address('svc').port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    assert.equal(got.status, 200);
    await until(() => app.runtime.resources.idleMemberConnections === 1);
    app.runtime.member('p', 'b')!.setAdmin('disabled');
    assert.equal(app.runtime.resources.idleMemberConnections, 0);
    assert.equal(app.runtime.member('p', 'b')!.traffic.size, 0);
  });
});

describe('on-member-down in the config', () => {
  const withDown = (mode: string, value: string): string =>
    withService(`{ listen: 127.0.0.1:8080, mode: ${mode}, pool: web }`, `{ members: [ { address: 10.0.0.1:80 } ], on-member-down: ${value} }`);

  it('defaults per mode: reselect for udp and http, keep for tcp', () => {
    for (const [mode, want] of [['udp', 'reselect'], ['http', 'reselect'], ['tcp', 'keep']] as const) {
      const config = parseConfig(withService(`{ listen: 127.0.0.1:8080, mode: ${mode}, pool: web }`), 'x.yaml', {});
      assert.equal(config.pools.web.onMemberDown, null);
      assert.equal(onMemberDownFor(mode, config.pools.web.onMemberDown), want);
    }
    assert.equal(parseConfig(withDown('tcp', 'close'), 'x.yaml', {}).pools.web.onMemberDown, 'close');
  });

  it('refuses what a mode cannot do, naming the pool key and the service', () => {
    assert.deepEqual(onlyIssue(withDown('tcp', 'reselect')), [
      'pools.web.on-member-down',
      'a tcp connection cannot move to another member once its bytes flow; use keep or close (service www is tcp)',
    ]);
    assert.equal(onlyIssue(withDown('http', 'close'))[0], 'pools.web.on-member-down');
    assert.deepEqual(onlyIssue(withDown('udp', 'move')), ['pools.web.on-member-down', 'expected keep, reselect or close, got "move"']);
  });
});
