// sip monitor against SIPp as a UAS started by the test, over UDP and TCP: 200 OK after a
// provisional 100 Trying, 486 Busy Here, a REGISTER, answers of other transactions that must be
// skipped; and ports where nothing listens. The request itself is checked on a plain socket.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { SipMonitor } from '../../../src/config/health-types.ts';
import type { CheckResult } from '../../../src/health/monitor.ts';
import { createSipMonitor } from '../../../src/health/monitors/sip.ts';
import { COMMON, loopback } from '../helpers-proto.ts';
import { response, scenario, startSipp, type Sipp } from '../helpers-proto-sip.ts';
import { freePort } from '../../helpers/ports.ts';

function sip(fields: Partial<SipMonitor>): SipMonitor {
  return { type: 'sip', ...COMMON, transport: 'udp', method: 'OPTIONS', uri: null, user: 'furiwake', expectStatus: [200], ...fields };
}

function check(port: number, fields: Partial<SipMonitor>, signal = new AbortController().signal): Promise<CheckResult> {
  return createSipMonitor(sip(fields)).run(loopback(port), signal);
}

const NOT_LISTENING = new Set(['ICMP port unreachable', 'connection refused']);

/** SIPp with the scenario, once it answers a real request (any answer: the scenario decides which). */
function sipp(xml: string, transport: 'udp' | 'tcp', method: 'OPTIONS' | 'REGISTER' = 'OPTIONS'): Promise<Sipp> {
  return startSipp(xml, transport, async (port) => !NOT_LISTENING.has((await check(port, { transport, method }, AbortSignal.timeout(5000))).reason));
}

const TRYING = response('100 Trying', { toTag: false });
const OK = scenario('OPTIONS 200', 'OPTIONS', [TRYING, response('200 OK')]);
const BUSY = scenario('OPTIONS 486', 'OPTIONS', [TRYING, response('486 Busy Here')]);
const REGISTERED = scenario('REGISTER 200', 'REGISTER', [response('200 OK')]);
// answers that belong to other transactions come first: the monitor must skip all of them
const STRAYS = scenario('OPTIONS strays', 'OPTIONS', [
  response('200 OK', { via: 'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnot-ours;rport' }),
  response('200 OK', { cseq: 'CSeq: 1 INVITE' }),
  response('200 OK', { callId: 'Call-ID: someone-else@127.0.0.1' }),
  TRYING,
  response('486 Busy Here'),
]);

for (const transport of ['udp', 'tcp'] as const) {
  describe(`sip monitor against SIPp over ${transport}`, { timeout: 30_000 }, () => {
    let ok: Sipp;
    let busy: Sipp;
    let register: Sipp;
    let strays: Sipp;
    after(() => Promise.all([ok?.peer.stop(), busy?.peer.stop(), register?.peer.stop(), strays?.peer.stop()]));

    before(async () => {
      [ok, busy, register, strays] = await Promise.all([
        sipp(OK, transport),
        sipp(BUSY, transport),
        sipp(REGISTERED, transport, 'REGISTER'),
        sipp(STRAYS, transport),
      ]);
    });

    it('is up on 200 OK to OPTIONS, after skipping 100 Trying', async () => {
      assert.deepEqual(await check(ok.port, { transport }), { up: true, reason: 'SIP 200 OK' });
    });

    it('is down on 486 Busy Here, naming the status', async () => {
      assert.deepEqual(await check(busy.port, { transport }), { up: false, reason: 'SIP 486 Busy Here' });
    });

    it('is up on 486 when expectStatus lists it', async () => {
      assert.deepEqual(await check(busy.port, { transport, expectStatus: [200, 486] }), { up: true, reason: 'SIP 486 Busy Here' });
    });

    it('is up on 200 OK to REGISTER', async () => {
      assert.deepEqual(await check(register.port, { transport, method: 'REGISTER' }), { up: true, reason: 'SIP 200 OK' });
    });

    it('skips answers with another Via branch, CSeq method or Call-ID', async () => {
      assert.deepEqual(await check(strays.port, { transport }), { up: false, reason: 'SIP 486 Busy Here' });
    });
  });
}

describe('sip monitor without a server', () => {
  it('is down with "ICMP port unreachable" over UDP where nothing listens', async () => {
    assert.deepEqual(await check(await freePort(), { transport: 'udp' }), { up: false, reason: 'ICMP port unreachable' });
  });

  it('is down with "connection refused" over TCP where nothing listens', async () => {
    assert.deepEqual(await check(await freePort(), { transport: 'tcp' }), { up: false, reason: 'connection refused' });
  });

  it('sends a well-formed OPTIONS, retransmits it over UDP with the same branch, and settles on abort', async () => {
    const server = dgram.createSocket('udp4');
    after(() => server.close());
    server.bind(0, '127.0.0.1');
    await once(server, 'listening');
    const port = server.address().port;
    const requests: { text: string; from: number }[] = [];
    // Timer E: the second copy follows the first after T1 (500 ms); wait for it, then abort
    const twice = new Promise<void>((resolve) => {
      server.on('message', (message, from) => {
        requests.push({ text: message.toString('utf8'), from: from.port });
        if (requests.length === 2) resolve();
      });
    });
    const controller = new AbortController();
    const result = check(port, { transport: 'udp' }, controller.signal);
    await twice;
    controller.abort();
    assert.deepEqual(await result, { up: false, reason: 'aborted' });

    const [first, second] = requests;
    assert.equal(first.text, second.text, 'a retransmission is the same request');
    const lines = first.text.split('\r\n');
    assert.equal(lines[0], `OPTIONS sip:127.0.0.1:${port} SIP/2.0`);
    const header = (name: string): string => {
      const line = lines.find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
      assert.ok(line !== undefined, `${name} header`);
      return line.slice(name.length + 1).trim();
    };
    assert.match(header('Via'), new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${first.from};branch=z9hG4bK[0-9a-f]+;rport$`));
    assert.equal(header('Max-Forwards'), '70');
    assert.match(header('From'), /^<sip:furiwake@127\.0\.0\.1>;tag=[0-9a-f]+$/);
    assert.equal(header('To'), `<sip:127.0.0.1:${port}>`);
    assert.match(header('Call-ID'), /^[0-9a-f]+@127\.0\.0\.1$/);
    assert.equal(header('CSeq'), '1 OPTIONS');
    assert.equal(header('Contact'), `<sip:furiwake@127.0.0.1:${first.from}>`);
    assert.equal(header('Accept'), 'application/sdp');
    assert.equal(header('Content-Length'), '0');
    assert.ok(first.text.endsWith('\r\n\r\n'), 'the head ends with an empty line');
  });
});

/** A TCP server on loopback that does `handle` with each connection (after the first bytes arrive). */
async function tcpPeer(handle: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => handle(socket));
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

describe('sip monitor against a broken UDP peer', () => {
  it('is down at once, not at the timeout, when the member answers a datagram that is not a SIP response', async () => {
    const server = dgram.createSocket('udp4');
    after(() => server.close());
    server.on('message', (_message, from) => server.send('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n', from.port, from.address));
    server.bind(0, '127.0.0.1');
    await once(server, 'listening');
    assert.deepEqual(await check(server.address().port, {}), { up: false, reason: 'malformed SIP response: not a SIP/2.0 status line' });
  });
});

describe('sip monitor against broken TCP peers', () => {
  it('is down with "connection closed before a response" when the peer closes', async () => {
    const port = await tcpPeer((socket) => socket.end());
    assert.deepEqual(await check(port, { transport: 'tcp' }), { up: false, reason: 'connection closed before a response' });
  });

  it('is down with "malformed SIP response" when the peer answers something else', async () => {
    const port = await tcpPeer((socket) => socket.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    assert.deepEqual(await check(port, { transport: 'tcp' }), { up: false, reason: 'malformed SIP response: not a SIP/2.0 status line' });
  });

  it('stops reading at 64 KiB when a response head never ends', async () => {
    const port = await tcpPeer((socket) => {
      socket.write('SIP/2.0 200 OK\r\n');
      socket.write(`X-Filler: ${'x'.repeat(70 * 1024)}`);
    });
    assert.deepEqual(await check(port, { transport: 'tcp' }), { up: false, reason: 'SIP response larger than 65536 bytes' });
  });
});
