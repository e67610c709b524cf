// Many connections at once, each ending its own way — clean echo, half-close, a slow reader of
// a large reply, a client that resets mid-reply, a member that resets — on both stream
// engines. What crossed the wire is checked for the clean ones; afterwards the connection
// table is empty, the member has no active connection, and no handle is left open.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import { startApp } from '../helpers/app.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { allClosed, openHandles } from '../helpers/handles.ts';

/** The member: the first line says what to do. Its sockets are kept, to be closed at the end. */
function member(sockets: Set<net.Socket>): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const nl = head.indexOf('\n');
      if (nl === -1) return;
      socket.off('data', onData);
      const [verb, arg] = head.slice(0, nl).split(' ');
      const rest = Buffer.from(head.slice(nl + 1), 'latin1');
      if (verb === 'ECHO') {
        // everything after the line comes back, and our FIN follows the client's
        socket.write(rest);
        socket.on('data', (c: Buffer) => socket.write(c));
        socket.on('end', () => socket.end());
      } else if (verb === 'SEND') {
        socket.resume();
        socket.end(Buffer.alloc(Number(arg), 'z'));
      } else {
        socket.resetAndDestroy();
      }
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  return once(server, 'listening').then(() => server);
}

interface Outcome {
  kind: string;
  ok: boolean;
  detail?: string;
}

/** the clients' sockets, to await their closing before the handles are counted */
const clients = new Set<net.Socket>();

function connect(port: number): net.Socket {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  clients.add(socket);
  socket.on('close', () => clients.delete(socket));
  return socket;
}

/** Sends random bytes after ECHO, half-closes, and checks the same bytes come back, then a FIN. */
function echo(port: number): Promise<Outcome> {
  const payload = randomBytes(1 + Math.floor(Math.random() * 300_000));
  const want = createHash('sha256').update(payload).digest('hex');
  return new Promise((resolve) => {
    const socket = connect(port);
    const hash = createHash('sha256');
    let got = 0;
    socket.on('data', (c: Buffer) => {
      hash.update(c);
      got += c.length;
    });
    socket.on('error', (err) => resolve({ kind: 'echo', ok: false, detail: err.message }));
    socket.on('end', () => {
      socket.end();
      const digest = hash.digest('hex');
      resolve({ kind: 'echo', ok: digest === want, detail: `${got} of ${payload.length} bytes` });
    });
    socket.write('ECHO\n');
    // in a few writes, the FIN with the last one
    const cut = Math.floor(payload.length / 2);
    socket.write(payload.subarray(0, cut));
    socket.end(payload.subarray(cut));
  });
}

/** Asks for a large reply and reads it slowly: every byte must arrive. */
function slowReader(port: number): Promise<Outcome> {
  const size = 2 * 1024 * 1024 + Math.floor(Math.random() * 1024);
  return new Promise((resolve) => {
    const socket = connect(port);
    let got = 0;
    let reads = 0;
    socket.on('data', (c: Buffer) => {
      got += c.length;
      if (++reads % 4 === 0) {
        socket.pause();
        setImmediate(() => socket.resume());
      }
    });
    socket.on('error', (err) => resolve({ kind: 'slow', ok: false, detail: err.message }));
    socket.on('end', () => {
      socket.end();
      resolve({ kind: 'slow', ok: got === size, detail: `${got} of ${size}` });
    });
    socket.end(`SEND ${size}\n`);
  });
}

/** Asks for a large reply, reads a little, then closes with unread bytes: a reset. */
function quitter(port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port);
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.destroy();
      resolve({ kind: 'quit', ok: true });
    });
    socket.write(`SEND ${8 * 1024 * 1024}\n`);
  });
}

/** The member resets: the client sees the reset (or at least the end), never data. */
function memberReset(port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port);
    let got = 0;
    socket.on('data', (c: Buffer) => (got += c.length));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'reset', ok: err.code === 'ECONNRESET' && got === 0, detail: err.code }));
    socket.on('end', () => {
      socket.destroy();
      resolve({ kind: 'reset', ok: false, detail: 'a FIN instead of a reset' });
    });
    socket.write('RESET\n');
  });
}

const KINDS = [echo, slowReader, quitter, memberReset];

describeOnEachEngine('tcp service under mixed load', () => {
  it('serves 400 connections, 40 at a time, each ending its own way, and leaves nothing behind', { timeout: 60_000 }, async () => {
    const baseline = await openHandles();
    const sockets = new Set<net.Socket>();
    const server = await member(sockets);
    const port = (server.address() as net.AddressInfo).port;
    const app = await startApp(single('tcp', pool('round-robin', [{ port, id: 'm' }])));
    const vip = app.address('svc').port;
    const outcomes: Outcome[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < 400) {
        const run = KINDS[next++ % KINDS.length];
        outcomes.push(await run(vip));
      }
    };
    await Promise.all(Array.from({ length: 40 }, worker));
    const failed = outcomes.filter((o) => !o.ok);
    assert.deepEqual(failed, [], `${failed.length} of ${outcomes.length} went wrong`);
    await app.runtime.connections.drained();
    assert.equal(app.runtime.connections.size, 0);
    const m = app.runtime.member('p', 'm')!;
    assert.equal(m.active, 0);
    assert.equal(m.total, 400);
    await app.stop(0);
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
    // a client that ended its side last closes once the shutdown is done: awaited, not left to loop turns
    await allClosed(clients);
    assert.deepEqual(await openHandles(), baseline);
  });
});
