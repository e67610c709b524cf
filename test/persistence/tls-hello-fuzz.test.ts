// Fuzzing the TLS handshake readers of tls-session persistence: the record and handshake layers
// (HandshakeReader, fed in random chunks), and the ClientHello, ServerHello and NewSessionTicket
// parsers. Seeded; mutations of valid messages with the grammar's lengths and types, and random bytes.
//
// Properties: nothing throws; the reader ends in one of its states and hands over only whole
// messages within its bound; a parsed session ID is 1-32 bytes, a ticket non-empty and no longer
// than the message, and re-building a message from what was parsed parses the same.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ClientHelloInfo,
  HANDSHAKE_CLIENT_HELLO,
  HANDSHAKE_NEW_SESSION_TICKET,
  HANDSHAKE_SERVER_HELLO,
  HandshakeReader,
  parseClientHello,
  parseNewSessionTicket,
  parseServerHello,
} from '../../src/persistence/tls-session.ts';
import { type Fuzzer, fuzz, fuzzCount } from '../helpers/fuzz.ts';
import { clientHelloBody, handshake, records, serverHelloBody, u16 } from '../helpers/tls-handshake.ts';

/** Lengths at and around the bounds, the types that matter, and the record header's bytes. */
const TOKENS: Buffer[] = [
  Buffer.from([0]), Buffer.from([32]), Buffer.from([33]), Buffer.from([0xff]), u16(0), u16(1), u16(2), u16(0xffff), u16(0x4000), u16(0x4801),
  u16(35), u16(43), Buffer.from([2, 3, 4]), Buffer.from([4, 3, 4, 3, 3]), Buffer.from([22, 3, 1]), Buffer.from([20, 3, 3, 0, 1, 1]),
  Buffer.from([1, 0, 0]), Buffer.from([0xff, 0xff, 0xff]),
];

function randomClientHello(f: Fuzzer): Buffer {
  return clientHelloBody({
    session: f.int(3) === 0 ? undefined : f.bytes(f.int(33)),
    ticket: f.int(2) === 0 ? undefined : f.bytes(f.int(300)),
    tls13: f.int(2) === 0,
  });
}

function randomServerHello(f: Fuzzer): Buffer {
  return serverHelloBody(f.bytes(f.int(33)), f.int(4) === 0);
}

function randomTicket(f: Fuzzer): Buffer {
  const ticket = f.bytes(f.int(400));
  return Buffer.concat([f.bytes(4), u16(ticket.length), ticket]);
}

function checkSessionId(id: Buffer | null): void {
  if (id !== null) assert.ok(id.length >= 1 && id.length <= 32, `session ID of ${id.length} bytes`);
}

/** The ClientHello made again from what was parsed: it must parse to the same. */
function rebuilt(hello: ClientHelloInfo): Buffer {
  return clientHelloBody({ session: hello.sessionId ?? undefined, ticket: hello.ticket ?? undefined, tls13: hello.offersTls13 });
}

describe('TLS handshake fuzzing', () => {
  it('ClientHello bodies', () => {
    fuzz(0x7151, fuzzCount(40_000), (f, i) => (i % 8 === 7 ? f.bytes(f.int(200)) : f.mutate(randomClientHello(f), TOKENS)), (body) => {
      const hello = parseClientHello(body);
      if (hello === null) return;
      checkSessionId(hello.sessionId);
      if (hello.ticket !== null) assert.ok(hello.ticket.length >= 1 && hello.ticket.length <= body.length);
      assert.equal(typeof hello.offersTls13, 'boolean');
      assert.deepEqual(parseClientHello(rebuilt(hello)), hello);
    });
  });

  it('ServerHello and NewSessionTicket bodies', () => {
    fuzz(0x7152, fuzzCount(40_000), (f, i) => {
      if (i % 8 === 7) return f.bytes(f.int(120));
      return f.mutate(i % 2 === 0 ? randomServerHello(f) : randomTicket(f), TOKENS);
    }, (body) => {
      const server = parseServerHello(body);
      if (server !== null) {
        checkSessionId(server.sessionId);
        assert.equal(typeof server.tls13, 'boolean');
      }
      const ticket = parseNewSessionTicket(body);
      if (ticket !== null) assert.ok(ticket.length >= 1 && ticket.length <= body.length - 6);
    });
  });

  it('the record and handshake reader, over random chunks', () => {
    fuzz(0x7153, fuzzCount(30_000), (f, i) => {
      const messages = i % 2 === 0
        ? handshake(HANDSHAKE_CLIENT_HELLO, randomClientHello(f))
        : Buffer.concat([handshake(HANDSHAKE_SERVER_HELLO, randomServerHello(f)), handshake(11, f.bytes(f.int(3000))), handshake(HANDSHAKE_NEW_SESSION_TICKET, randomTicket(f))]);
      const stream = Buffer.concat([records(22, messages, 1 + f.int(2000)), f.int(2) === 0 ? Buffer.from([20, 3, 3, 0, 1, 1]) : Buffer.alloc(0)]);
      return i % 16 === 15 ? f.bytes(f.int(300)) : f.mutate(stream, TOKENS);
    }, (input, i) => {
      const max = i % 3 === 0 ? 512 : 16_384;
      const reader = new HandshakeReader([HANDSHAKE_CLIENT_HELLO, HANDSHAKE_SERVER_HELLO, HANDSHAKE_NEW_SESSION_TICKET], max, (type, body) => {
        assert.ok(body.length <= max, 'a message within the bound');
        if (type === HANDSHAKE_CLIENT_HELLO) checkSessionId(parseClientHello(body)?.sessionId ?? null);
        if (type === HANDSHAKE_SERVER_HELLO) checkSessionId(parseServerHello(body)?.sessionId ?? null);
        if (type === HANDSHAKE_NEW_SESSION_TICKET) parseNewSessionTicket(body);
        return type !== HANDSHAKE_SERVER_HELLO;
      });
      let state = reader.state as string;
      for (let at = 0, step = 1 + (i % 97); at < input.length && state === 'reading'; at += step) state = reader.push(input.subarray(at, at + step));
      assert.ok(['reading', 'done', 'not-tls'].includes(state));
    });
  });
});
