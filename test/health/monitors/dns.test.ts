// dns monitor against a real dnsmasq started by the test (UDP and TCP), with names that answer,
// names that do not exist, and ports where nothing listens or nothing answers.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import type { DnsMonitor } from '../../../src/config/health-types.ts';
import type { CheckResult } from '../../../src/health/monitor.ts';
import { createDnsMonitor } from '../../../src/health/monitors/dns.ts';
import { COMMON, loopback, retryPortClash, startPeer, type Peer } from '../helpers-proto.ts';
import { tempDir } from '../../helpers/files.ts';
import { freePort } from '../../helpers/ports.ts';

function dns(fields: Partial<DnsMonitor>): DnsMonitor {
  return { type: 'dns', ...COMMON, name: 'up.test', queryType: 'A', transport: 'udp', expectRcode: 'NOERROR', expectAnswer: null, ...fields };
}

function check(port: number, fields: Partial<DnsMonitor>, signal = new AbortController().signal): Promise<CheckResult> {
  return createDnsMonitor(dns(fields)).run(loopback(port), signal);
}

describe('dns monitor against dnsmasq', { timeout: 30_000 }, () => {
  let port: number;
  let dnsmasq: Peer;
  after(() => dnsmasq?.stop());

  before(async () => {
    const dir = await tempDir('dns');
    ({ port, dnsmasq } = await retryPortClash(async () => {
      const port = await freePort();
      const dnsmasq = startPeer('dnsmasq', [
        '--no-daemon',
        '--no-resolv',
        '--no-hosts',
        `--port=${port}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--conf-file=/dev/null',
        `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
        '--user=root',
        '--log-facility=-',
        '--log-queries',
        '--address=/up.test/10.1.2.3',
        '--address=/nx.test/', // no address: NXDOMAIN for the domain
        '--txt-record=txt.up.test,hello,world',
        '--mx-host=up.test,mail.up.test,10',
        '--cname=alias.up.test,up.test',
        '--host-record=v6.up.test,fd00::1:2',
      ]);
      // dnsmasq logs 'started' after it has bound its sockets (it exits if it cannot)
      await dnsmasq.waitFor(/dnsmasq\[\d+\]: started, version/);
      return { port, dnsmasq };
    }));
  });

  it('is up over UDP when the answer is the expected address', async () => {
    assert.deepEqual(await check(port, { expectAnswer: '10.1.2.3' }), { up: true, reason: 'NOERROR' });
  });

  it('is up over TCP (length-prefixed) when the answer is the expected address', async () => {
    assert.deepEqual(await check(port, { transport: 'tcp', expectAnswer: '10.1.2.3' }), { up: true, reason: 'NOERROR' });
  });

  it('is up on NOERROR alone when no answer is expected', async () => {
    assert.deepEqual(await check(port, {}), { up: true, reason: 'NOERROR' });
  });

  it('is down when no answer has the expected value', async () => {
    assert.deepEqual(await check(port, { expectAnswer: '10.0.0.9' }), { up: false, reason: 'no answer matched 10.0.0.9' });
    assert.deepEqual(await check(port, { transport: 'tcp', expectAnswer: '10.0.0.9' }), { up: false, reason: 'no answer matched 10.0.0.9' });
  });

  it('is down on NXDOMAIN when NOERROR is expected, and up when NXDOMAIN is', async () => {
    assert.deepEqual(await check(port, { name: 'gone.nx.test' }), { up: false, reason: 'rcode NXDOMAIN, expected NOERROR' });
    assert.deepEqual(await check(port, { name: 'gone.nx.test', expectRcode: 'NXDOMAIN' }), { up: true, reason: 'NXDOMAIN' });
  });

  it('is down on REFUSED for a name dnsmasq has no data for (with --no-resolv it has no upstream)', async () => {
    // dnsmasq's quirk: not NXDOMAIN but REFUSED ("config error is REFUSED (EDE: not ready)")
    assert.deepEqual(await check(port, { name: 'unknown.example' }), { up: false, reason: 'rcode REFUSED, expected NOERROR' });
    assert.deepEqual(await check(port, { name: 'unknown.example', transport: 'tcp' }), { up: false, reason: 'rcode REFUSED, expected NOERROR' });
  });

  it('compares the data of each record type: TXT text, MX exchange, CNAME name, AAAA address', async () => {
    assert.deepEqual(await check(port, { name: 'txt.up.test', queryType: 'TXT', expectAnswer: 'helloworld' }), { up: true, reason: 'NOERROR' });
    assert.deepEqual(await check(port, { queryType: 'MX', expectAnswer: 'mail.up.test.' }), { up: true, reason: 'NOERROR' });
    assert.deepEqual(await check(port, { name: 'alias.up.test', queryType: 'CNAME', expectAnswer: 'UP.test' }), { up: true, reason: 'NOERROR' });
    // the same IPv6 address, spelled differently
    assert.deepEqual(await check(port, { name: 'v6.up.test', queryType: 'AAAA', expectAnswer: 'fd00:0:0::1:2' }), { up: true, reason: 'NOERROR' });
    assert.deepEqual(await check(port, { name: 'v6.up.test', queryType: 'AAAA', expectAnswer: 'fd00::1:3' }), { up: false, reason: 'no answer matched fd00::1:3' });
  });

  it('asked dnsmasq the questions as configured (its query log)', async () => {
    // its own questions: the tests above may not have run (a name pattern, another order)
    await check(port, { name: 'txt.up.test', queryType: 'TXT' });
    await check(port, { name: 'gone.nx.test' });
    await dnsmasq.waitFor(/query\[TXT\] txt\.up\.test from 127\.0\.0\.1/);
    await dnsmasq.waitFor(/query\[A\] gone\.nx\.test from 127\.0\.0\.1/);
  });
});

describe('dns monitor without a server', () => {
  it('refuses, at creation, a query type it cannot encode', () => {
    assert.throws(() => createDnsMonitor(dns({ queryType: 'BOGUS' })), { message: 'dns monitor: unknown query type BOGUS' });
  });

  it('is down with "ICMP port unreachable" over UDP where nothing listens', async () => {
    const port = await freePort();
    assert.deepEqual(await check(port, {}), { up: false, reason: 'ICMP port unreachable' });
  });

  it('is down with "connection refused" over TCP where nothing listens', async () => {
    const port = await freePort();
    assert.deepEqual(await check(port, { transport: 'tcp' }), { up: false, reason: 'connection refused' });
  });

  it('settles when aborted while a server reads the query and never answers; the query was well formed', async () => {
    const silent = dgram.createSocket('udp4');
    after(() => silent.close());
    silent.bind(0, '127.0.0.1');
    await once(silent, 'listening');
    const controller = new AbortController();
    const received = once(silent, 'message') as Promise<[Buffer]>;
    const result = check(silent.address().port, { name: 'Quiet.Test', queryType: 'MX' }, controller.signal);
    const [query] = await received;
    controller.abort();
    assert.deepEqual(await result, { up: false, reason: 'aborted' });
    const decoded = dnsPacket.decode(query);
    assert.equal(decoded.type, 'query');
    assert.equal(decoded.flag_rd, true);
    assert.deepEqual(decoded.questions, [{ name: 'quiet.test', type: 'MX', class: 'IN' }]);
  });

  it('ignores a response with another id and takes the one that matches', async () => {
    const server = dgram.createSocket('udp4');
    after(() => server.close());
    server.on('message', (message, from) => {
      const query = dnsPacket.decode(message);
      const answer = (id: number, address: string): Buffer =>
        dnsPacket.encode({
          type: 'response',
          id,
          flags: dnsPacket.RECURSION_DESIRED,
          questions: query.questions,
          answers: [{ type: 'A', name: 'up.test', ttl: 1, data: address }],
        });
      // a stray answer first (wrong id), then ours
      server.send(answer((query.id! + 1) & 0xffff, '10.9.9.9'), from.port, from.address);
      server.send(answer(query.id!, '10.1.2.3'), from.port, from.address);
    });
    server.bind(0, '127.0.0.1');
    await once(server, 'listening');
    assert.deepEqual(await check(server.address().port, { expectAnswer: '10.1.2.3' }), { up: true, reason: 'NOERROR' });
  });
});

describe('dns monitor against broken peers', () => {
  it('is down with "malformed DNS response" when the answer with our id does not decode', async () => {
    const server = dgram.createSocket('udp4');
    after(() => server.close());
    server.on('message', (message, from) => {
      // our id, a response header that promises one question, and then nothing
      const broken = Buffer.from([message[0], message[1], 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 7]);
      server.send(broken, from.port, from.address);
    });
    server.bind(0, '127.0.0.1');
    await once(server, 'listening');
    const result = await check(server.address().port, {});
    assert.equal(result.up, false);
    assert.match(result.reason, /^malformed DNS response: /);
  });

  it('is down at once, not at the timeout, when the answer with our id is for another question or not a response', async () => {
    const server = dgram.createSocket('udp4');
    after(() => server.close());
    server.on('message', (message, from) => {
      const query = dnsPacket.decode(message);
      const other = query.questions![0].name === 'echo.test'
        ? message // the query itself sent back: QR is 0
        : dnsPacket.encode({ type: 'response', id: query.id, flags: 0, questions: [{ type: 'A', name: 'elsewhere.test', class: 'IN' }] });
      server.send(other, from.port, from.address);
    });
    server.bind(0, '127.0.0.1');
    await once(server, 'listening');
    const port = server.address().port;
    assert.deepEqual(await check(port, {}), { up: false, reason: 'malformed DNS response: the question is not ours' });
    assert.deepEqual(await check(port, { name: 'echo.test' }), { up: false, reason: 'malformed DNS response: not a response (QR is 0)' });
  });

  it('over TCP: is down when the first answer is not for our query, or when the server closes', async () => {
    const server = net.createServer((socket) => {
      socket.once('data', (data) => {
        const query = dnsPacket.decode(data.subarray(2));
        if (query.questions?.[0]?.name === 'close.test') return void socket.end();
        socket.end(dnsPacket.streamEncode({ type: 'response', id: (query.id! + 1) & 0xffff, questions: query.questions }));
      });
    });
    after(() => server.close());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    assert.deepEqual(await check(port, { transport: 'tcp' }), { up: false, reason: 'DNS response did not match the query' });
    assert.deepEqual(await check(port, { transport: 'tcp', name: 'close.test' }), { up: false, reason: 'connection closed before a response' });
  });
});
