// The TLS handshake reader and message parsers, on handshakes built byte by byte: records split
// over reads, messages split over records, several messages per record, bounds and garbage.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  HANDSHAKE_CLIENT_HELLO,
  HANDSHAKE_NEW_SESSION_TICKET,
  HANDSHAKE_SERVER_HELLO,
  HandshakeReader,
  parseClientHello,
  parseNewSessionTicket,
  parseServerHello,
  sessionIdKey,
  ticketKey,
} from '../../src/persistence/tls-session.ts';
import { clientHelloBody, extension, extensions, handshake, records, serverHelloBody, SESSION, TICKET, u16 } from '../helpers/tls-handshake.ts';

/** Feeds `bytes` to a reader in pieces of `step` bytes; returns the messages it handed over. */
function read(bytes: Buffer, wanted: number[], step: number, max = 65_536): { state: string; messages: [number, Buffer][] } {
  const messages: [number, Buffer][] = [];
  const reader = new HandshakeReader(wanted, max, (type, body) => {
    messages.push([type, body]);
    return type === HANDSHAKE_CLIENT_HELLO || type === HANDSHAKE_NEW_SESSION_TICKET;
  });
  let state = reader.state as string;
  for (let at = 0; at < bytes.length && state === 'reading'; at += step) state = reader.push(bytes.subarray(at, at + step));
  return { state, messages };
}

describe('ClientHello', () => {
  it('gives the session ID and the ticket, whole or read one byte at a time', () => {
    const bytes = records(22, handshake(1, clientHelloBody({ session: SESSION, ticket: TICKET })));
    for (const step of [bytes.length, 1, 7]) {
      const { state, messages } = read(bytes, [HANDSHAKE_CLIENT_HELLO], step);
      assert.equal(state, 'done');
      assert.equal(messages.length, 1);
      assert.deepEqual(parseClientHello(messages[0][1]), { sessionId: SESSION, ticket: TICKET, offersTls13: false });
    }
  });

  it('reads a ClientHello split over several records', () => {
    const bytes = records(22, handshake(1, clientHelloBody({ session: SESSION, tls13: true })), 10);
    const { state, messages } = read(bytes, [HANDSHAKE_CLIENT_HELLO], 3);
    assert.equal(state, 'done');
    assert.deepEqual(parseClientHello(messages[0][1]), { sessionId: SESSION, ticket: null, offersTls13: true });
  });

  it('offers nothing when the session ID and the ticket are empty', () => {
    const body = clientHelloBody({ ticket: Buffer.alloc(0) });
    assert.deepEqual(parseClientHello(body), { sessionId: null, ticket: null, offersTls13: false });
  });

  it('refuses malformed bodies: a session ID over 32 bytes, truncated fields and extensions', () => {
    const good = clientHelloBody({ session: SESSION, ticket: TICKET });
    const long = Buffer.from(good);
    long[34] = 33;
    assert.equal(parseClientHello(long), null);
    for (const cut of [10, 34, 60, 76, 80, good.length - 1]) assert.equal(parseClientHello(good.subarray(0, cut)), null, `cut at ${cut}`);
  });

  it('refuses lengths that disagree: cipher suites, compressions, the extension list, supported_versions', () => {
    const hello = (suites: Buffer, compressions: Buffer, exts: Buffer): Buffer =>
      Buffer.concat([u16(0x0303), Buffer.alloc(32, 7), Buffer.from([0]), u16(suites.length), suites, Buffer.from([compressions.length]), compressions, exts]);
    const suite = Buffer.from([0xc0, 0x2b]);
    const none = extensions();
    assert.notEqual(parseClientHello(hello(suite, Buffer.from([0]), none)), null);
    assert.equal(parseClientHello(hello(Buffer.from([0xc0]), Buffer.from([0]), none)), null, 'an odd cipher suite list');
    assert.equal(parseClientHello(hello(Buffer.alloc(0), Buffer.from([0]), none)), null, 'no cipher suite');
    assert.equal(parseClientHello(hello(suite, Buffer.alloc(0), none)), null, 'no compression method');
    assert.equal(parseClientHello(hello(suite, Buffer.from([0]), Buffer.concat([none, Buffer.from([1])]))), null, 'a byte after the extensions');
    const ticket = extension(35, TICKET);
    assert.equal(parseClientHello(hello(suite, Buffer.from([0]), Buffer.concat([u16(ticket.length - 4), ticket]))), null, 'a list shorter than its extensions');
    for (const versions of [[4, 3, 4], [3, 3, 4, 3, 3], [6, 3, 4, 3, 3], [0]]) {
      assert.equal(parseClientHello(hello(suite, Buffer.from([0]), extensions(extension(43, Buffer.from(versions))))), null, `supported_versions ${versions}`);
    }
    assert.equal(parseServerHello(Buffer.concat([serverHelloBody(SESSION), Buffer.from([0])])), null, 'a byte after the ServerHello');
    assert.equal(parseNewSessionTicket(Buffer.from([0, 0, 0, 1, 0, 1, 9, 9])), null, 'a byte after the ticket');
  });

  it('gives up on bytes that are not TLS records', () => {
    assert.equal(read(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), [1], 5).state, 'not-tls');
    assert.equal(read(Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02]), [1], 5).state, 'not-tls'); // SSLv2-style hello
    assert.equal(read(Buffer.from([22, 3, 1, 0x48, 0x01]), [1], 5).state, 'not-tls'); // record above 18 KiB
    assert.equal(read(Buffer.from([22, 3, 1, 0, 0]), [1], 5).state, 'not-tls'); // empty record
  });

  it('skips a wanted message larger than the bound instead of copying it', () => {
    const bytes = records(22, handshake(1, clientHelloBody({ ticket: Buffer.alloc(2000, 1) })));
    const { state, messages } = read(bytes, [HANDSHAKE_CLIENT_HELLO], 100, 1000);
    assert.equal(state, 'reading');
    assert.equal(messages.length, 0);
  });
});

describe('the server side', () => {
  it('finds the ServerHello and the NewSessionTicket past a large certificate, and stops at ChangeCipherSpec', () => {
    const flight1 = records(22, Buffer.concat([
      handshake(2, serverHelloBody(SESSION)),
      handshake(11, Buffer.alloc(20_000, 3)), // Certificate, over two records
      handshake(14, Buffer.alloc(0)), // ServerHelloDone
    ]));
    const flight2 = Buffer.concat([
      records(22, handshake(4, Buffer.concat([Buffer.from([0, 0, 0x1c, 0x20]), u16(TICKET.length), TICKET]))),
      Buffer.from([20, 3, 3, 0, 1, 1]),
    ]);
    const { state, messages } = read(Buffer.concat([flight1, flight2]), [HANDSHAKE_SERVER_HELLO, HANDSHAKE_NEW_SESSION_TICKET], 999);
    assert.equal(state, 'done');
    assert.deepEqual(messages.map(([t]) => t), [2, 4]);
    assert.deepEqual(parseServerHello(messages[0][1]), { sessionId: SESSION, tls13: false });
    assert.deepEqual(parseNewSessionTicket(messages[1][1]), TICKET);
  });

  it('stops at ChangeCipherSpec when no ticket comes', () => {
    const bytes = Buffer.concat([records(22, handshake(2, serverHelloBody(SESSION))), Buffer.from([20, 3, 3, 0, 1, 1])]);
    const { state, messages } = read(bytes, [HANDSHAKE_SERVER_HELLO, HANDSHAKE_NEW_SESSION_TICKET], 4);
    assert.equal(state, 'done');
    assert.equal(messages.length, 1);
  });

  it('recognizes a TLS 1.3 ServerHello', () => {
    assert.deepEqual(parseServerHello(serverHelloBody(SESSION, true)), { sessionId: SESSION, tls13: true });
  });

  it('refuses a malformed ServerHello or ticket', () => {
    assert.equal(parseServerHello(serverHelloBody(SESSION).subarray(0, 40)), null);
    assert.equal(parseNewSessionTicket(Buffer.from([0, 0, 0, 1, 0, 9, 1])), null);
    assert.equal(parseNewSessionTicket(Buffer.from([0, 0, 0, 1, 0, 0])), null);
  });
});

describe('stick-table keys', () => {
  it('are short, and distinct for session IDs and tickets', () => {
    assert.equal(sessionIdKey(SESSION), `id:${'ab'.repeat(32)}`);
    const key = ticketKey(TICKET);
    assert.match(key, /^ticket:[0-9a-f]{32}$/);
    assert.equal(ticketKey(Buffer.from(TICKET)), key);
    assert.notEqual(ticketKey(Buffer.alloc(180, 0x5d)), key);
  });
});
