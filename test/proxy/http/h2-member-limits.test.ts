// Bounds on what an HTTP/2 member sends (h2c members built by hand from frames): a SETTINGS
// flood, a response head with too many fields or too large, a frame over the frame size. The offending member's request
// fails (502) and counts as its failure; a good member of the same pool goes on serving on its
// one session. And what member sessions hold: a descriptor each, in the budget.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { block, frame, headers } from '../../attack/h2-raw.ts';
import { atEnd } from '../../helpers/cleanup.ts';
import { pool } from '../../helpers/config.ts';
import { until } from '../../helpers/wait.ts';
import { h2cService } from './h2-helpers.ts';
import { startH2Member } from './h2-members-helpers.ts';

const SETTINGS = 0x4;
const ACK = 0x1;

/**
 * A member that speaks HTTP/2 by hand: `greeting` is its first SETTINGS frame; each request's
 * HEADERS (a client stream, odd) is answered with the frames `answer(stream)` gives.
 */
async function rawMember(greeting: Buffer, answer: (stream: number) => Buffer, accepted: { connections: number } = { connections: 0 }): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    accepted.connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.write(greeting);
    let buffered = Buffer.alloc(0);
    let preface = false;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!preface) {
        if (buffered.length < 24) return;
        buffered = buffered.subarray(24);
        preface = true;
      }
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) return;
        const [type, flags] = [buffered[3], buffered[4]];
        const stream = buffered.readUInt32BE(5) & 0x7fffffff;
        buffered = buffered.subarray(9 + length);
        if (type === SETTINGS && (flags & ACK) === 0) socket.write(frame(SETTINGS, ACK, 0));
        else if (type === 0x1) socket.write(answer(stream));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  atEnd(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return (server.address() as net.AddressInfo).port;
}

function settingsFrame(entries: number): Buffer {
  const payload = Buffer.alloc(entries * 6);
  // SETTINGS_MAX_CONCURRENT_STREAMS (3) = 100, again and again
  for (let i = 0; i < entries; i++) {
    payload.writeUInt16BE(3, i * 6);
    payload.writeUInt32BE(100, i * 6 + 2);
  }
  return frame(SETTINGS, 0, 0, payload);
}

function get(port: number, path: string): Promise<number> {
  return fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });
}

/** A keep-alive HTTP/1.1 client that got an answer to one request (its status), or null: closed unanswered (refused). */
function keptClient(port: number): Promise<{ socket: net.Socket; status: number } | null> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /kept HTTP/1.1\r\nHost: a\r\n\r\n'));
    atEnd(async () => {
      socket.destroy();
    });
    let seen = '';
    socket.on('error', () => {});
    socket.on('close', () => resolve(null));
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (seen.includes('\r\n\r\n')) resolve({ socket, status: Number(seen.slice(9, 12)) });
    });
  });
}

/** A header list in a HEADERS frame and CONTINUATION frames of at most 16 KiB each (the default SETTINGS_MAX_FRAME_SIZE), ending the stream. */
function headersInFrames(stream: number, fields: [string, string][]): Buffer {
  const whole = block(fields);
  const frames: Buffer[] = [];
  for (let at = 0; at < whole.length; at += 16_384) {
    const last = at + 16_384 >= whole.length;
    // HEADERS (END_STREAM) first, then CONTINUATION; END_HEADERS on the last
    frames.push(frame(at === 0 ? 0x1 : 0x9, (at === 0 ? 0x1 : 0) | (last ? 0x4 : 0), stream, whole.subarray(at, at + 16_384)));
  }
  return Buffer.concat(frames);
}

const ok = (stream: number) => headers(stream, [[':status', '200'], ['content-length', '0']], true);

describe('HTTP/2 members: bounds on what a member sends', () => {
  // `connections`: how many the bad member sees for its 3 requests
  for (const [what, greeting, answer, connections] of [
    ['a SETTINGS frame of 40 entries', settingsFrame(40), ok, 3],
    ['a response head of 600 fields', settingsFrame(1), (stream: number) => headers(stream, [[':status', '200'], ...Array.from({ length: 600 }, (_, i): [string, string] => [`x-f${i}`, 'v'])], true), 1],
    // (in HEADERS and CONTINUATION frames within the frame size: the bound on a head, not on a frame)
    ['a response head of 100 KiB', settingsFrame(1), (stream: number) => headersInFrames(stream, [[':status', '200'], ...Array.from({ length: 100 }, (_, i): [string, string] => [`x-f${i}`, 'v'.repeat(1024)])]), 1],
    ['a HEADERS frame of 100 KiB (over the frame size)', settingsFrame(1), (stream: number) => headers(stream, [[':status', '200'], ['x-big', 'v'.repeat(100 * 1024)]], true), 3],
  ] as const) {
    it(`a member that sends ${what}: its request fails as its failure; the other member serves on`, async () => {
      const accepted = { connections: 0 };
      const badPort = await rawMember(greeting, answer, accepted);
      const good = await startH2Member('good');
      const { app, port } = await h2cService(pool('round-robin', [{ port: badPort, id: 'bad' }, { port: good.port, id: 'good' }], {}, { memberProtocol: 'h2c' }), {}, { retries: 0 });
      // the pool's first pick is bad, then good, in turns
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push(await get(port, `/r${i}`));
      const [bad, fine] = ['bad', 'good'].map((id) => app.runtime.member('p', id)!);
      assert.deepEqual(statuses.filter((s) => s === 200).length, 3, `statuses ${statuses.join(' ')}`);
      assert.ok(statuses.every((s) => s === 200 || s === 502), `statuses ${statuses.join(' ')}`);
      assert.equal(bad.failed, 3);
      assert.equal(fine.failed, 0);
      // the good member's one session carried all of its requests
      assert.equal(good.sessions, 1);
      assert.equal(good.requests.length, 3);
      // a head past a bound costs its request only; a frame-level fault, the member's connection
      assert.equal(accepted.connections, connections, 'connections the bad member accepted');
    });
  }

  it('takes a response head of 400 fields, as from an HTTP/1.1 member (node alone stops at 128)', async () => {
    const many = await rawMember(settingsFrame(1), (stream) => headers(stream, [[':status', '200'], ['content-length', '0'], ...Array.from({ length: 400 }, (_, i): [string, string] => [`x-f${i}`, 'v'])], true));
    const { app, port } = await h2cService(pool('round-robin', [{ port: many, id: 'many' }], {}, { memberProtocol: 'h2c' }));
    const res = await fetch(`http://127.0.0.1:${port}/`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-f399'), 'v');
    assert.equal(app.runtime.member('p', 'many')!.failed, 0);
  });

  it('counts each session to an h2c member in the descriptor budget while it is open', async () => {
    const m = await startH2Member('m');
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port, id: 'm' }], {}, { memberProtocol: 'h2c' }), { memberKeepAlive: { maxIdle: 1, idleTimeout: 200 } });
    const resources = app.runtime.resources;
    assert.equal(resources.h2MemberSessions, 0);
    assert.deepEqual(await Promise.all([0, 1, 2].map((i) => get(port, `/s${i}`))), [200, 200, 200]);
    assert.equal(m.sessions, 1);
    assert.equal(resources.h2MemberSessions, 1);
    // closed once idle (the service's member keep-alive idle-timeout): the budget has its descriptor back
    await until(() => resources.h2MemberSessions === 0);
  });

  it('counts a client connection of an h2c pool as its one descriptor in the budget, beside the session', async () => {
    const m = await startH2Member('m');
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port, id: 'm' }], {}, { memberProtocol: 'h2c' }));
    const resources = app.runtime.resources;
    // room for 2 proxied connections: 4 descriptors. Two kept clients and the member session take 3.
    resources.maxConnections = 2;
    assert.equal((await keptClient(port))?.status, 200);
    assert.equal((await keptClient(port))?.status, 200);
    assert.equal(resources.clientOnlyConnections, 2);
    assert.equal(resources.h2MemberSessions, 1);
    // a third fits (before, each client counted two descriptors and it was refused)...
    assert.equal((await keptClient(port))?.status, 200);
    // ... a fourth would make 5
    assert.equal(await keptClient(port), null);
    assert.equal(resources.overBudget, 1);
    assert.equal(m.sessions, 1);
  });

  // As HAProxy and Envoy do: a head past a bound fails its own request (RST_STREAM, 502), and the
  // connection goes on carrying the others (HPACK was decoded whole, so the connection is in step);
  // passive health deals with a member that keeps doing it
  for (const [what, big] of [
    ['600 fields', Array.from({ length: 600 }, (_, i): [string, string] => [`x-f${i}`, 'v'])],
    ['70 KiB of fields', Array.from({ length: 70 }, (_, i): [string, string] => [`x-f${i}`, 'v'.repeat(1024)])],
  ] as const) {
    it(`a member head of ${what} fails its own request only: another in flight on the same connection is answered`, async () => {
      const accepted = { connections: 0 };
      let first = 0;
      const port = await rawMember(settingsFrame(1), (stream) => {
        first ||= stream;
        return stream === first ? headersInFrames(stream, [[':status', '200'], ...big]) : ok(stream);
      }, accepted);
      const { app, port: svc } = await h2cService(pool('round-robin', [{ port, id: 'm' }], {}, { memberProtocol: 'h2c' }), {}, { retries: 0 });
      const statuses = (await Promise.all([get(svc, '/a'), get(svc, '/b')])).sort();
      assert.deepEqual(statuses, [200, 502]);
      assert.equal(app.runtime.member('p', 'm')!.failed, 1);
      // the connection stayed: a third request rides it
      assert.equal(await get(svc, '/c'), 200);
      assert.equal(accepted.connections, 1);
    });
  }
});

