// What a listener opens, it closes on every path: a udp service whose bind fails leaves no socket
// (at start and at a failed reload), and an http client still sending its PROXY header is closed
// by a stop with no grace.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import { createLogger } from '../../src/log.ts';
import type { HttpListener } from '../../src/proxy/http/http-listener.ts';
import { pool, service, single } from '../helpers/config.ts';
import { startUdpServer } from '../helpers/servers.ts';
import { httpConfig, raw, startMember } from './http/helpers.ts';
import { openHandles } from '../helpers/handles.ts';
import { until } from '../helpers/wait.ts';

/** `n` clients that have sent half a PROXY line: the balancer is still reading their headers. */
async function halfProxyLines(port: number, n: number): Promise<net.Socket[]> {
  const clients: net.Socket[] = [];
  for (let i = 0; i < n; i++) {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await once(socket, 'connect');
    socket.on('error', () => {});
    socket.write('PROXY TCP4 192.0.2.1 ');
    clients.push(socket);
  }
  return clients;
}

describe('listener ownership', () => {
  it('closes a udp listener whose bind failed, at start and at reload', async () => {
    const taken = dgram.createSocket('udp4');
    taken.bind(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = taken.address().port;
    const member = await startUdpServer('a');
    const before = await openHandles();

    const config = single('udp', pool('round-robin', [{ port: member.port }]), { listen: { host: '127.0.0.1', port, ip: '127.0.0.1' } });
    await assert.rejects(Furiwake.start(config, createLogger('silent')), /cannot listen/);
    assert.deepEqual(await openHandles(), before);

    // a reload that adds a service on the taken port fails the same way, leaving nothing
    const app = await Furiwake.start(single('udp', pool('round-robin', [{ port: member.port }])), createLogger('silent'));
    const running = await openHandles();
    const failures = await app.reload({ ...config, services: { ...config.services, svc: service('udp', 'p'), other: config.services.svc } });
    assert.equal(failures.length, 1);
    assert.deepEqual(await openHandles(), running);
    await app.stop(0);
    assert.deepEqual(await openHandles(), before);

    await member.close();
    await new Promise<void>((resolve) => taken.close(() => resolve()));
  });

  it('closes http clients still sending their PROXY header on a stop with no grace', async () => {
    const m = await startMember('a');
    const before = await openHandles();
    // the headers timeout is far off: only the stop can close them
    const config = httpConfig(pool('round-robin', [{ port: m.port }]), {}, { acceptProxy: true });
    config.services.svc.http!.timeouts.headers = 600_000;
    const app = await Furiwake.start(config, createLogger('silent'));
    const port = app.address('svc').port;
    const clients = await halfProxyLines(port, 3);
    // the balancer holds them, reading their headers
    const listener = app.listener('svc') as HttpListener;
    await until(() => listener.pending === 3);
    await app.stop(0);
    assert.equal(listener.pending, 0);
    for (const c of clients) if (!c.closed) await once(c, 'close');
    assert.deepEqual(await openHandles(), before);
    // closed by the stop, not refused for their header
    assert.equal(app.runtime.resources.proxyHeadersRefused, 0);
  });

  it('forgets http clients that reset while sending their PROXY header', async () => {
    const m = await startMember('a');
    const config = httpConfig(pool('round-robin', [{ port: m.port }]), {}, { acceptProxy: true });
    config.services.svc.http!.timeouts.headers = 600_000;
    const app = await Furiwake.start(config, createLogger('silent'));
    const port = app.address('svc').port;
    const listener = app.listener('svc') as HttpListener;
    const clients = await halfProxyLines(port, 3);
    await until(() => listener.pending === 3);
    // a reset is no FIN: before, these stayed pending for good, each a place of the descriptor
    // budget (a flood of them shut the service out with no descriptor in use)
    for (const c of clients) c.resetAndDestroy();
    const served = await raw(port, 'PROXY TCP4 192.0.2.9 192.0.2.1 1000 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(served.status, 200);
    assert.equal(listener.pending, 0);
    assert.equal(app.runtime.resources.proxyHeadersRefused, 3);
    await app.stop(0);
  });
});
