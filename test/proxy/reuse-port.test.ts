// SO_REUSEPORT (the `reusePort` listener option): two listeners of one service in one process bind
// the same address:port (as the worker threads of issue 14 will), and the kernel spreads the
// clients over them: every connection is served by one of them, and a udp client's datagrams
// all reach the same socket, so its flow is never split. When one closes (a worker that stops), the
// other takes every new client, and the udp clients of the closed one start new flows on it.
// Without the option the second bind fails.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { HttpListener } from '../../src/proxy/http/http-listener.ts';
import type { Listener } from '../../src/proxy/listener.ts';
import { streamEngine } from '../../src/proxy/stream-engine.ts';
import { TcpListener } from '../../src/proxy/tcp-listener.ts';
import { UdpListener } from '../../src/proxy/udp-listener.ts';
import type { Config } from '../../src/config/types.ts';
import { ConnectionTable } from '../../src/runtime/connection-table.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { Service } from '../../src/runtime/service.ts';
import { greeting, httpGet } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { ENGINES } from '../helpers/engines.ts';
import { startTcpServer, startUdpServer } from '../helpers/servers.ts';
import { httpConfig, startMember } from './http/helpers.ts';

const log = createLogger('silent');
/** enough clients that both sockets get some (all on one: a chance of 2^-(CLIENTS-1)) */
const CLIENTS = 48;

/** Service `svc` of `config`, twice: as configured (port 0), and a maker of the same on the port the first bound. */
function serviceOf(config: Config): { first: Service; on(port: number): Service } {
  const runtime = new Runtime();
  runtime.apply(config);
  const first = runtime.services.get('svc')!;
  return { first, on: (port) => new Service('svc', { ...first.config, listen: { ...first.config.listen, port } }, first.pool, first.persistence) };
}

/** Connections (flows) each table took for `svc`. */
function taken(tables: ConnectionTable[]): number[] {
  return tables.map((t) => t.totals().get('svc') ?? 0);
}

type Make = (service: Service, table: ConnectionTable, reusePort: boolean) => Listener;

/** Two listeners of `svc` with reusePort, each with its own connection table, bound on one port. */
async function bindTwo<L extends Listener>(config: Config, make: (service: Service, table: ConnectionTable, reusePort: boolean) => L): Promise<{ a: L; b: L; port: number; tables: ConnectionTable[] }> {
  const { first, on } = serviceOf(config);
  const tables = [new ConnectionTable(), new ConnectionTable()];
  const a = make(first, tables[0], true);
  await a.listen();
  const { port } = a.address();
  const b = make(on(port), tables[1], true);
  await b.listen();
  assert.equal(b.address().port, port);
  return { a, b, port, tables };
}

/**
 * Two listeners with reusePort on one port: both bind, and `serve` clients are answered by one or
 * the other; once one closes, by the other alone. `serve` is called 2 x CLIENTS times.
 */
async function sharedPort(config: Config, make: Make, serve: (port: number) => Promise<void>): Promise<void> {
  const { a, b, port, tables } = await bindTwo(config, make);
  await Promise.all(Array.from({ length: CLIENTS }, () => serve(port)));
  const counts = taken(tables);
  assert.equal(counts[0] + counts[1], CLIENTS, 'each client was taken by one listener');
  assert.ok(counts[0] > 0 && counts[1] > 0, `the kernel spread the clients over both listeners (${counts.join(' + ')})`);
  // one closes (a worker that stops): the other takes every new client
  await a.close();
  await Promise.all(Array.from({ length: CLIENTS }, () => serve(port)));
  assert.deepEqual(taken(tables), [counts[0], counts[1] + CLIENTS]);
  await b.close();
  await Promise.all(tables.map((t) => t.drained()));
}

/** Without reusePort (the default), the second listener on the port fails to bind, as before. */
async function exclusivePort(config: Config, make: (service: Service, table: ConnectionTable) => Listener): Promise<void> {
  const { first, on } = serviceOf(config);
  const a = make(first, new ConnectionTable());
  await a.listen();
  const b = make(on(a.address().port), new ConnectionTable());
  await assert.rejects(b.listen(), /EADDRINUSE/);
  await b.close();
  await a.close();
}

/** Whether this machine can listen on ::1 (containers often have no IPv6). */
async function hasIPv6Loopback(): Promise<boolean> {
  const server = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

for (const engine of ENGINES) {
  describe(`reusePort: the ${engine} engine's listen`, () => {
    for (const ip of ['127.0.0.1', '::1']) {
      it(`binds ${ip} twice with it, and refuses a listener without it on the same port`, async (t) => {
        if (ip === '::1' && !(await hasIPv6Loopback())) return t.skip('no IPv6 loopback here');
        const streams = streamEngine(engine);
        const first = await streams.listen(ip, 0, 16, () => {}, () => {}, true);
        const { port } = first.address();
        const second = await streams.listen(ip, port, 16, () => {}, () => {}, true);
        assert.equal(second.address().port, port);
        await assert.rejects(streams.listen(ip, port, 16, () => {}, () => {}), /EADDRINUSE/);
        first.close();
        second.close();
      });
    }
  });

  describe(`reusePort: tcp on the ${engine} engine`, () => {
    const tcp: Make = (service, table, reusePort) => new TcpListener(service, table, log, undefined, streamEngine(engine), { reusePort });

    it('binds two listeners of one service on one port, which between them serve every connection', async () => {
      const m = await startTcpServer('a');
      await sharedPort(single('tcp', pool('round-robin', [{ port: m.port }])), tcp, async (port) => {
        assert.equal(await greeting(port), 'a');
      });
      assert.equal(m.accepted, 2 * CLIENTS);
      await m.close();
    });

    it('without it, a second listener on the port fails with EADDRINUSE', async () => {
      const m = await startTcpServer('a');
      await exclusivePort(single('tcp', pool('round-robin', [{ port: m.port }])), (service, table) => new TcpListener(service, table, log, undefined, streamEngine(engine)));
      await m.close();
    });
  });

  describe(`reusePort: http on the ${engine} engine`, () => {
    it('binds two listeners of one service on one port, which between them serve every connection', async () => {
      const outside = process.env.FURIWAKE_TCP_ENGINE;
      process.env.FURIWAKE_TCP_ENGINE = engine;
      try {
        const m = await startMember('a');
        const http: Make = (service, table, reusePort) => new HttpListener(service, table, log, null, undefined, { reusePort });
        await sharedPort(httpConfig(pool('round-robin', [{ port: m.port }])), http, async (port) => {
          assert.equal(await httpGet(port), 'a GET /');
        });
        await exclusivePort(httpConfig(pool('round-robin', [{ port: m.port }])), (service, table) => new HttpListener(service, table, log));
        await m.close();
      } finally {
        if (outside === undefined) delete process.env.FURIWAKE_TCP_ENGINE;
        else process.env.FURIWAKE_TCP_ENGINE = outside;
      }
    });
  });
}

describe('reusePort: udp', () => {
  const udp = (service: Service, table: ConnectionTable, reusePort: boolean): UdpListener => new UdpListener(service, table, log, undefined, undefined, { reusePort });

  it('binds two listeners of one service on one port; each client\'s datagrams all reach one of them, so no flow is split', async () => {
    const m = await startUdpServer('a');
    const { a, b, port, tables } = await bindTwo(single('udp', pool('round-robin', [{ port: m.port }])), udp);

    // each client sends several datagrams, one at a time, and has each answered
    const ROUNDS = 4;
    const clients = await Promise.all(Array.from({ length: CLIENTS }, async () => {
      const socket = dgram.createSocket('udp4');
      socket.bind(0, '127.0.0.1');
      await once(socket, 'listening');
      return socket;
    }));
    const ask = async (socket: dgram.Socket, text: string): Promise<void> => {
      const reply = once(socket, 'message') as Promise<[Buffer]>;
      socket.send(text, port, '127.0.0.1');
      assert.equal(String((await reply)[0]), `a:${text}`);
    };
    await Promise.all(clients.map(async (socket, i) => {
      for (let round = 0; round < ROUNDS; round++) await ask(socket, `${i}/${round}`);
    }));

    // which listener holds each client's flow: one flow per client, on one listener only
    const holders = new Map<number, number[]>();
    tables.forEach((table, which) => {
      for (const flow of table.list()) holders.set(flow.client.port, [...(holders.get(flow.client.port) ?? []), which]);
    });
    assert.equal(holders.size, CLIENTS);
    for (const [client, on] of holders) assert.equal(on.length, 1, `client port ${client} has a flow on listeners ${on.join(' and ')}`);
    const counts = taken(tables);
    assert.deepEqual([counts[0] + counts[1], a.flows + b.flows], [CLIENTS, CLIENTS]);
    assert.ok(counts[0] > 0 && counts[1] > 0, `the kernel spread the clients over both listeners (${counts.join(' + ')})`);
    // the member saw each client's datagrams through its one flow: one source port per client
    assert.equal(new Set(m.from).size, CLIENTS);
    assert.equal(m.from.length, CLIENTS * ROUNDS);

    // one closes (a worker that stops): its clients' next datagrams reach the other, which opens their flows anew
    await a.close();
    await Promise.all(clients.map((socket, i) => ask(socket, `${i}/again`)));
    assert.equal(b.flows, CLIENTS);

    await Promise.all(clients.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await b.close();
    await m.close();
  });

  it('without it, a second listener on the port fails with EADDRINUSE', async () => {
    const m = await startUdpServer('a');
    await exclusivePort(single('udp', pool('round-robin', [{ port: m.port }])), (service, table) => new UdpListener(service, table, log));
    await m.close();
  });
});
