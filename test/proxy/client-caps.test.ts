// max-connections-per-client: a client address at its cap has its next connection closed at
// once (counted, never reaching a member); other addresses are not affected; a closed connection
// gives its place back. On tcp and http services, on both stream engines.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import { startApp } from '../helpers/app.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { connection, httpConfig, startMember } from './http/helpers.ts';

/** Connects from `from`, sends `send`, and resolves with what came before the connection closed. */
function refused(port: number, from = '127.0.0.1', send = ''): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    let text = '';
    if (send !== '') socket.on('connect', () => socket.write(send));
    socket.on('data', (c: Buffer) => (text += String(c)));
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
  });
}

/** A connection from `from` that got the member's greeting line. */
function greetedFrom(port: number, from: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    socket.once('data', () => resolve(socket));
    socket.on('error', reject);
  });
}

async function closed(socket: net.Socket): Promise<void> {
  socket.end();
  socket.resume();
  if (!socket.closed) await once(socket, 'close');
}

describeOnEachEngine('max-connections-per-client', () => {
  it('tcp: closes a client\'s connection beyond its cap at once; other clients are served', async () => {
    const member = await startTcpServer('a');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: member.port }]), { maxConnectionsPerClient: 2 }));
    const port = app.address('svc').port;
    const one = await greetedFrom(port, '127.0.0.1');
    const two = await greetedFrom(port, '127.0.0.1');
    assert.equal(await refused(port), '');
    assert.equal(app.runtime.resources.clientCapRefused, 1);
    assert.equal(member.accepted, 2); // the refused one never reached the member
    // another address has its own count
    const other = await greetedFrom(port, '127.0.0.2');
    // a connection that closes gives its place back
    await closed(one);
    await app.runtime.connections.atMost(2);
    const three = await greetedFrom(port, '127.0.0.1');
    for (const s of [two, other, three]) await closed(s);
    await member.close();
  });

  it('http: closes a client\'s connection beyond its cap at once; other clients are served', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), {}, { maxConnectionsPerClient: 1 }));
    const port = app.address('svc').port;
    const one = await connection(port);
    assert.match(await one.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200/);
    assert.equal(await refused(port), '');
    assert.equal(app.runtime.resources.clientCapRefused, 1);
    // another address is served
    assert.match(await refused(port, '127.0.0.2', 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200/);
    await one.close();
    await app.runtime.connections.atMost(0);
    const again = await connection(port);
    assert.match(await again.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200/);
    await again.close();
    assert.equal(app.runtime.resources.clientCapRefused, 1);
  });

  it('http behind a PROXY header: the cap counts the sending address, and a closed socket gives its place back', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), {}, { maxConnectionsPerClient: 1, acceptProxy: true }));
    const port = app.address('svc').port;
    const header = 'PROXY TCP4 192.0.2.7 127.0.0.1 4000 80\r\n';
    const one = await connection(port);
    assert.match(await one.send(header + 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200/);
    assert.equal(await refused(port, '127.0.0.1', header), '');
    assert.equal(app.runtime.resources.clientCapRefused, 1);
    assert.match(await refused(port, '127.0.0.2', header + 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200/);
    await one.close();
    await app.runtime.connections.atMost(0);
    const again = await connection(port);
    assert.match(await again.send(header + 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200/);
    await again.close();
    assert.equal(app.runtime.resources.clientCapRefused, 1);
  });
});
