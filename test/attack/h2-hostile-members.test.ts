// Hostile HTTP/2 members, as an outsider who runs one would write them: frames built by hand
// (h2-raw.ts) against a real furiwake with an h2c pool. Whatever the member sends, the client
// gets a response or a 502 (or a cut response once its head was passed on), no exception
// escapes furiwake, and the next client is served.

import assert from 'node:assert/strict';
import net from 'node:net';
import { it } from 'node:test';
import { atEnd } from '../helpers/cleanup.ts';
import { pool } from '../helpers/config.ts';
import { closeServer, listenOnLoopback } from '../helpers/servers.ts';
import { h2cService, h2Connect, h2Request } from '../proxy/http/h2-helpers.ts';
import { raw } from '../proxy/http/helpers.ts';
import { block, data, frame, headers, RawH2 } from './h2-raw.ts';

/** What the member does on each request stream that comes. */
type Answer = (m: RawH2, id: number) => void;

/** A member speaking raw HTTP/2 (its SETTINGS first), answering each request with `answer`. */
async function rawMember(answer: Answer): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const m = new RawH2(socket, true);
    m.write(frame(0x4, 0, 0));
    m.onRequest = (id) => answer(m, id);
  });
  atEnd(() => closeServer(server, sockets));
  return listenOnLoopback(server);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

const OK: [string, string] = [':status', '200'];

/** An HTTP/1.1 request and an HTTP/2 one through an h2c service in front of the member. */
async function throughFuriwake(answer: Answer): Promise<{ h1: string; h2: number }> {
  const member = await rawMember(answer);
  const { app, port } = await h2cService(pool('round-robin', [{ port: member }], {}, { memberProtocol: 'h2c' }));
  const h1 = await raw(port, 'GET /a HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
  const session = h2Connect(port, false);
  const h2 = await h2Request(session, { ':path': '/b' }).then((r) => r.status, () => -1);
  session.close();
  // stopping closes the member sessions too: what they still hold must go quietly
  await app.stop(0);
  return { h1: h1.text, h2 };
}

it('refuses a member\'s server push (PUSH_PROMISE): no exception escapes, the clients get their answers', async () => {
  const promised = block([[':method', 'GET'], [':scheme', 'http'], [':path', '/pushed'], [':authority', 'a.test']]);
  // always stream 2: the second promise reuses it, a connection error that ends the pushed stream too
  const got = await throughFuriwake((m, id) => m.write(frame(0x5, 0x4, id, Buffer.concat([u32(2), promised])), headers(id, [OK], true)));
  assert.match(got.h1, /^HTTP\/1\.1 (200|502) /);
  assert.ok(got.h2 === 200 || got.h2 === 502, String(got.h2));
});

it('answers 502 to a response head nghttp2 refuses (no :status, a bad one, uppercase or connection fields)', async () => {
  for (const head of [[['x-a', 'b']], [[':status', '20x']], [[':status', '101']], [OK, ['X-Up', '1']], [OK, ['connection', 'close']]] as [string, string][][]) {
    const got = await throughFuriwake((m, id) => m.write(headers(id, head, true)));
    assert.match(got.h1, /^HTTP\/1\.1 502 /, JSON.stringify(head));
    assert.equal(got.h2, 502, JSON.stringify(head));
  }
});

it('cuts the client off when the member resets mid-body, breaks its Content-Length or sends a pseudo-header as a trailer', async () => {
  const answers: Answer[] = [
    (m, id) => m.write(headers(id, [OK], false), data(id, 'part', false), frame(0x3, 0, id, u32(2))),
    (m, id) => m.write(headers(id, [OK, ['content-length', '10']], false), data(id, 'hi', true)),
    (m, id) => m.write(headers(id, [OK], false), data(id, 'x', false), headers(id, [[':status', '500']], true)),
  ];
  for (const answer of answers) {
    const got = await throughFuriwake(answer);
    // the head was passed on; the body never ends as one that is complete would
    assert.match(got.h1, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(got.h1, /0\r\n\r\n$/);
    assert.equal(got.h2, -1);
  }
});

it('keeps serving through a storm of GOAWAY frames', async () => {
  const goaway = (last: number): Buffer => frame(0x7, 0, 0, Buffer.concat([u32(last), u32(0)]));
  const got = await throughFuriwake((m, id) => {
    for (let i = 0; i < 1000; i++) m.write(goaway(id + 2 * (1000 - i)));
    m.write(headers(id, [OK], true));
  });
  assert.match(got.h1, /^HTTP\/1\.1 200 /);
  assert.equal(got.h2, 200);
});
