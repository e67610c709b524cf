// `balance-per: sip-dialog` end to end: one SIPp UAC on one socket places calls through a udp
// service to two SIPp UASes. New calls (Call-IDs) are balanced over both; every message of a
// call (INVITE, ACK, BYE) reaches the UAS that holds it, so no call fails; malformed datagrams
// are dropped and counted.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { UdpListener } from '../../src/proxy/udp-listener.ts';
import type { SipMonitor } from '../../src/config/health-types.ts';
import { createSipMonitor } from '../../src/health/monitors/sip.ts';
import { startApp } from '../helpers/app.ts';
import { pool, single } from '../helpers/config.ts';
import { tempDir } from '../helpers/files.ts';
import { freePort } from '../helpers/ports.ts';
import { COMMON, loopback, retryPortClash, startPeer } from '../health/helpers-proto.ts';
import { response, scenario, startSipp, type Sipp } from '../health/helpers-proto-sip.ts';

const NOT_LISTENING = new Set(['ICMP port unreachable', 'connection refused']);

/** A UAS that answers one call: 180, 200, then the ACK, then 200 to the BYE. */
const UAS = scenario('uas call', 'INVITE', [
  response('180 Ringing'),
  response('200 OK'),
  '  <recv request="ACK" />\n  <recv request="BYE" />\n',
  response('200 OK'),
]);

/** A UAS whose received messages are logged to `log` (-trace_msg). */
async function uas(log: string): Promise<Sipp> {
  const monitor: SipMonitor = { type: 'sip', ...COMMON, transport: 'udp', method: 'OPTIONS', uri: null, user: 'furiwake', expectStatus: [200] };
  // ready once a probe gets anything but a refusal (-aa: SIPp answers OPTIONS outside its scenario)
  return startSipp(UAS, 'udp', async (port) => !NOT_LISTENING.has((await createSipMonitor(monitor).run(loopback(port), AbortSignal.timeout(5000))).reason), ['-aa', '-trace_msg', '-message_file', log]);
}

/** The requests a UAS received, by Call-ID (the readiness probes' OPTIONS left out). */
async function received(log: string): Promise<Map<string, string[]>> {
  const calls = new Map<string, string[]>();
  for (const block of (await readFile(log, 'latin1')).split(/message received \[\d+\] bytes :/).slice(1)) {
    const method = /^\s*([A-Z]+) sip:/.exec(block)?.[1];
    const callId = /^Call-ID:\s*(\S+)/im.exec(block)?.[1];
    if (method === undefined || method === 'OPTIONS' || callId === undefined) continue;
    calls.set(callId, [...(calls.get(callId) ?? []), method]);
  }
  return calls;
}

/** SIPp's built-in UAC placing `calls` calls to `port` from one socket; resolves with its exit code and its port. */
async function uac(port: number, calls: number): Promise<{ code: number | string | null; port: number }> {
  return retryPortClash(async () => {
    const own = await freePort();
    const peer = startPeer('sipp', [
      '-sn', 'uac', `127.0.0.1:${port}`,
      '-i', '127.0.0.1', '-p', String(own), '-t', 'u1',
      '-m', String(calls), '-r', '50', '-l', String(calls),
      '-ci', '127.0.0.1', '-cp', String(await freePort()),
      '-mi', '127.0.0.1', '-mp', String(await freePort('127.0.0.1', 3)),
      // no retransmits (loopback loses nothing): a message sent to the wrong UAS goes unanswered
      // and fails its call, rather than being retried until it happens to reach the right one
      '-nr', '-recv_timeout', '5s',
      '-timeout', '60s', '-nostdin',
    ]);
    const code = await peer.exited;
    // 255 with a bind error: the port was taken meanwhile (retryPortClash tries others)
    if (code !== 0 && /bind|Address already in use/i.test(peer.output())) throw Object.assign(new Error(peer.output()), { code: 'EADDRINUSE' });
    return { code, port: own };
  });
}

describe('udp service with balance-per: sip-dialog', () => {
  it('spreads the calls of one UAC socket over two UASes; every call completes', async () => {
    const dir = await tempDir('sip-dialog');
    const logs = ['a', 'b'].map((n) => path.join(dir, `uas-${n}.log`));
    const servers = await Promise.all(logs.map(uas));
    const app = await startApp(single('udp', pool('round-robin', servers.map((s, i) => ({ port: s.port, id: 'ab'[i] }))), { balancePer: 'sip-dialog' }));
    const vip = app.address('svc');
    const result = await uac(vip.port, 10);
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
