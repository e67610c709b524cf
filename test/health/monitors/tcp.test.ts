// The tcp monitor against real loopback servers: connect, refuse, silence, banners, resets.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Matcher, TcpMonitor } from '../../../src/config/health-types.ts';
import { compileMatcher } from '../../../src/health/monitors/match.ts';
import { createTcpMonitor, MAX_REPLY } from '../../../src/health/monitors/tcp.ts';
import { COMMON, never, target, tcpPeer } from '../helpers-basic.ts';
import { checkHandles } from '../../helpers/handles.ts';
import { freePort } from '../../helpers/ports.ts';

function tcp(send: string | Buffer | null = null, expect: Matcher | null = null): TcpMonitor {
  return { ...COMMON, type: 'tcp', send: typeof send === 'string' ? Buffer.from(send) : send, expect };
}

checkHandles();

describe('tcp monitor: connect', () => {
  test('a server that accepts: up, and the connection is closed after', async () => {
    const peer = await tcpPeer();
    const result = await createTcpMonitor(tcp()).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'connected' });
    await peer.closed(1);
    await peer.close();
  });

  test('a closed port: down, connection refused', async () => {
    const port = await freePort();
    const result = await createTcpMonitor(tcp()).run(target(port), never());
    assert.deepEqual(result, { up: false, reason: 'connection refused' });
  });

  test('send without expect: up once written, and the server got the bytes', async () => {
    const peer = await tcpPeer();
    const result = await createTcpMonitor(tcp('HELLO\r\n')).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'connected' });
    await peer.closed(1);
    assert.equal(peer.received[0].toString(), 'HELLO\r\n');
    await peer.close();
  });

  test('a server that accepts and never answers: the abort settles the check and closes the socket', async () => {
    const peer = await tcpPeer();
    const controller = new AbortController();
    const check = createTcpMonitor(tcp('PING\r\n', { kind: 'string', value: '+PONG' })).run(target(peer.port), controller.signal);
    const socket = await peer.accepted(1);
    await new Promise((resolve) => socket.once('data', resolve)); // the PING arrived; nothing comes back
    controller.abort();
    const result = await check;
    assert.equal(result.up, false);
    await peer.closed(1);
    assert.equal(peer.received[0].toString(), 'PING\r\n');
    await peer.close();
  });

  test('an already aborted signal: settles at once, nothing opened', async () => {
    const peer = await tcpPeer();
    const controller = new AbortController();
    controller.abort();
    const result = await createTcpMonitor(tcp()).run(target(peer.port), controller.signal);
    assert.equal(result.up, false);
    assert.equal(peer.sockets.length, 0);
    await peer.close();
  });
});

describe('tcp monitor: banners and replies', () => {
  const smtp = (banner: string) => tcpPeer((socket) => socket.write(banner));

  test('SMTP-like banner 220 ready: up', async () => {
    const peer = await smtp('220 ready ESMTP\r\n');
    const result = await createTcpMonitor(tcp(null, { kind: 'string', value: '220 ready' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'reply matched "220 ready"' });
    await peer.closed(1);
    await peer.close();
  });

  test('SMTP-like banner by regex: up', async () => {
    const peer = await smtp('220 mail.example.com ESMTP\r\n');
    const result = await createTcpMonitor(tcp(null, { kind: 'regex', value: '^220 ' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'reply matched /^220 /' });
    await peer.close();
  });

  test('a banner that does not match, then the server closes: reply did not match', async () => {
    const peer = await tcpPeer((socket) => socket.end('554 no service here\r\n'));
    const result = await createTcpMonitor(tcp(null, { kind: 'string', value: '220' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: false, reason: 'reply did not match "220"' });
    await peer.close();
  });

  test('a banner split across writes still matches', async () => {
    // the rest of the banner only after the client has spoken: two reads on the client's side
    const peer = await tcpPeer((socket) => {
      socket.write('22');
      socket.once('data', () => socket.write('0 ready\r\n'));
    });
    const result = await createTcpMonitor(tcp('EHLO probe\r\n', { kind: 'string', value: '220 ready' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'reply matched "220 ready"' });
    await peer.close();
  });

  const redis = (answer: string, end = false) => tcpPeer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      if (chunk.toString() !== 'PING\r\n') return socket.destroy();
      if (end) socket.end(answer);
      else socket.write(answer);
    });
  });

  test('Redis-like PING / +PONG: up, and the server got PING', async () => {
    const peer = await redis('+PONG\r\n');
    const result = await createTcpMonitor(tcp('PING\r\n', { kind: 'string', value: '+PONG' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'reply matched "+PONG"' });
    await peer.closed(1);
    assert.equal(peer.received[0].toString(), 'PING\r\n');
    await peer.close();
  });

  test('Redis-like error reply, then close: reply did not match "+PONG"', async () => {
    const peer = await redis('-NOAUTH Authentication required.\r\n', true);
    const result = await createTcpMonitor(tcp('PING\r\n', { kind: 'string', value: '+PONG' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: false, reason: 'reply did not match "+PONG"' });
    await peer.close();
  });

  test('the server closes without a word: connection closed before a reply matched', async () => {
    const peer = await tcpPeer((socket) => socket.on('data', () => socket.end()));
    const result = await createTcpMonitor(tcp('PING\r\n', { kind: 'string', value: '+PONG' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: false, reason: 'connection closed before a reply matched "+PONG"' });
    await peer.close();
  });

  test('hex expect: the exact bytes in the reply pass', async () => {
    const peer = await redis('+PONG\r\n');
    const result = await createTcpMonitor(tcp('PING\r\n', { kind: 'hex', value: '2b504f4e47' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'reply matched hex 2b504f4e47' });
    await peer.close();
  });

  test('hex expect over binary bytes that do not match: down', async () => {
    const peer = await tcpPeer((socket) => socket.end(Buffer.from([0x00, 0xff, 0x2b, 0x50, 0x4f, 0x4e])));
    const result = await createTcpMonitor(tcp(null, { kind: 'hex', value: '2b504f4e47' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: false, reason: 'reply did not match hex 2b504f4e47' });
    await peer.close();
  });

  test('a server that streams without matching: the read stops at the bound, down', async () => {
    let written = 0;
    const peer = await tcpPeer((socket) => {
      const chunk = Buffer.alloc(4096, 'x');
      const pump = (): void => {
        while (!socket.destroyed && socket.write(chunk)) written += chunk.length;
      };
      socket.on('drain', pump);
      pump();
    });
    const result = await createTcpMonitor(tcp(null, { kind: 'string', value: '+PONG' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: false, reason: 'reply did not match "+PONG"' });
    await peer.closed(1); // the monitor hung up: the stream was not read to any end
    assert.ok(written >= MAX_REPLY);
    await peer.close();
  });

  test('a server that resets the connection: connection reset', async () => {
    const peer = await tcpPeer((socket) => socket.on('data', () => socket.resetAndDestroy()));
    const result = await createTcpMonitor(tcp('PING\r\n', { kind: 'string', value: '+PONG' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: false, reason: 'connection reset' });
    await peer.close();
  });
});

describe('matchers', () => {
  test('describe: "OK" for a string, /OK/ for a regex, hex digits for bytes', () => {
    assert.equal(compileMatcher({ kind: 'string', value: 'OK' }).describe, '"OK"');
    assert.equal(compileMatcher({ kind: 'regex', value: 'OK' }).describe, '/OK/');
    assert.equal(compileMatcher({ kind: 'hex', value: '2B 50:4f' }).describe, 'hex 2b504f');
  });

  test('a string is found anywhere, as bytes; a regex over the text; hex as exact bytes', () => {
    assert.equal(compileMatcher({ kind: 'string', value: 'OK' }).test(Buffer.from('all OK\n')), true);
    assert.equal(compileMatcher({ kind: 'string', value: 'OK' }).test(Buffer.from('ok')), false);
    assert.equal(compileMatcher({ kind: 'regex', value: '^HTTP/1\\.[01] 2' }).test(Buffer.from('HTTP/1.1 200')), true);
    assert.equal(compileMatcher({ kind: 'hex', value: 'ff00' }).test(Buffer.from([1, 0xff, 0, 2])), true);
    assert.equal(compileMatcher({ kind: 'hex', value: 'ff00' }).test(Buffer.from([0xff, 1, 0])), false);
  });

  test('bad hex and bad regexes are refused when compiled', () => {
    assert.throws(() => compileMatcher({ kind: 'hex', value: 'abc' }), /invalid hex bytes "abc"/);
    assert.throws(() => compileMatcher({ kind: 'hex', value: 'zz' }), /invalid hex bytes/);
    assert.throws(() => compileMatcher({ kind: 'regex', value: '(' }), /invalid regular expression \/\(\//);
  });
});
