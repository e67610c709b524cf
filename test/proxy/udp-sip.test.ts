// `balance-per: sip-dialog` end to end: one SIPp UAC on one socket places calls through a udp
// service to two SIPp UASes. New calls (Call-IDs) are balanced over both; every message of a
// call (INVITE, ACK, BYE) reaches the UAS that holds it, so no call fails; malformed datagrams
// are dropped and counted.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { UdpListener } from '../../src/proxy/udp-listener.ts';
import { startApp } from '../helpers/app.ts';
import { pool, single } from '../helpers/config.ts';
import { tempDir } from '../helpers/files.ts';
import { received, uac, uas } from './udp-sip-helpers.ts';

/** No retransmits (loopback loses nothing): a message sent to the wrong UAS goes unanswered and fails its call, rather than being retried until it happens to reach the right one. */
const NO_RETRANSMITS = ['-nr', '-recv_timeout', '5s'];

describe('udp service with balance-per: sip-dialog', () => {
  it('spreads the calls of one UAC socket over two UASes; every call completes', async () => {
    const dir = await tempDir('sip-dialog');
    const logs = ['a', 'b'].map((n) => path.join(dir, `uas-${n}.log`));
    const servers = await Promise.all(logs.map(uas));
    const app = await startApp(single('udp', pool('round-robin', servers.map((s, i) => ({ port: s.port, id: 'ab'[i] }))), { balancePer: 'sip-dialog' }));
    const vip = app.address('svc');
    const result = await uac(vip.port, 10, NO_RETRANSMITS);
    assert.equal(result.code, 0, 'every call succeeded');
    // each UAS got every request of its calls and none of the other's: INVITE, ACK, BYE
    await Promise.all(servers.map((s) => s.peer.stop())); // writes out its message log
    const [a, b] = await Promise.all(logs.map(received));
    assert.ok(a.size > 0 && b.size > 0, `calls on a: ${a.size}, on b: ${b.size}`);
    assert.equal(a.size + b.size, 10);
    for (const calls of [a, b]) for (const [callId, methods] of calls) assert.deepEqual(methods, ['INVITE', 'ACK', 'BYE'], callId);
    // both UASes answered this one client port, each through its own flow
    const flows = [...app.runtime.connections.list({ service: 'svc' })].filter((f) => f.client.port === result.port);
    assert.deepEqual(flows.map((f) => f.member?.id).sort(), ['a', 'b']);
    for (const f of flows) assert.ok(f.bytesOut > 0, `member ${f.member?.id} answered`);
    const listener = app.listener('svc') as UdpListener;
    assert.equal(listener.messages!.malformed, 0);
    assert.equal(listener.messages!.unmatched, 0);
  });

  it('drops and counts datagrams that are not SIP messages, and responses in no known dialog', async () => {
    // a member that sends each datagram back as it came
    const echo = dgram.createSocket('udp4');
    echo.on('message', (data, from) => echo.send(data, from.port, from.address));
    echo.bind(0, '127.0.0.1');
    await once(echo, 'listening');
    const app = await startApp(single('udp', pool('round-robin', [{ port: echo.address().port, id: 'a' }]), { balancePer: 'sip-dialog' }));
    const vip = app.address('svc');
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const bad = [
      '\r\n\r\n', // a keepalive
      'hello',
      'INVITE sip:x SIP/2.0\r\nVia: a\r\n\r\n', // no Call-ID
      'INVITE sip:x SIP/2.0\r\nCall-ID: a b\r\n\r\n', // not one word
      'SIP/2.0 200 OK\r\nCall-ID: nobody@x\r\n\r\n', // answers nothing
    ];
    for (const text of bad) socket.send(Buffer.from(text), vip.port, '127.0.0.1');
    // then a good request, read after the bad ones (in order, one socket), comes back
    const good = 'OPTIONS sip:x SIP/2.0\r\nCall-ID: probe@x\r\n\r\n';
    socket.send(Buffer.from(good), vip.port, '127.0.0.1');
    const [answer] = await once(socket, 'message');
    assert.equal(answer.toString(), good);
    const listener = app.listener('svc') as UdpListener;
    assert.equal(listener.messages!.malformed, bad.length);
    socket.close();
    echo.close();
  });
});
