// Hostile PROXY headers against running services: a malformed line is refused (that connection
// only), the process and the next good client carry on, and nothing built from a bad field
// reaches a member. Real members on loopback record every byte that crossed the wire.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import { createLogger } from '../../src/log.ts';
import { logSink, startApp } from '../helpers/app.ts';
import { exchange } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import { httpConfig, raw } from './http/helpers.ts';

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A tcp member that records the bytes of each connection and echoes them back once the client has finished. */
async function recorder(): Promise<TcpServer & { got: Buffer[] }> {
  const got: Buffer[] = [];
  const s = await startTcpServer('recorder', (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      got.push(all);
      socket.end(all);
    });
  });
  return Object.assign(s, { got });
}

/** An http member that records each request head as it came and answers 200 "ok". */
async function httpRecorder(): Promise<TcpServer & { heads: string[] }> {
  const heads: string[] = [];
  const s = await startTcpServer('http-recorder', (socket) => {
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      heads.push(text.slice(0, end + 4));
      text = text.slice(end + 4);
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    socket.on('end', () => socket.end());
  });
  return Object.assign(s, { heads });
}

/** Lines that must each be refused: malformed in one field, or in the line's bytes. */
const MALFORMED_V1 = [
  'PROXY TCP6 fffff::1 ::1 1000 80\r\n', // a group above 16 bits (used to throw while building v2: the process exited)
  'PROXY TCP6 1:2:3:4:5:6:7:8::9 ::1 1000 80\r\n', // nine groups
  'PROXY TCP6 fe80::1%eth0 ::1 1000 80\r\n', // a zone id
  'PROXY TCP6 192.0.2.1 ::1 1000 80\r\n', // IPv4 in a TCP6 line
  'PROXY TCP4 not-an-ip 192.0.2.1 1000 80\r\n', // used to build a v2 header from uninitialised memory
  'PROXY TCP4 192.0.2.1 192.0.2.256 1000 80\r\n',
  'PROXY TCP4 192.0.2.01 192.0.2.1 1000 80\r\n', // a leading zero (octal to some readers)
  'PROXY TCP4 2001:db8::1 192.0.2.1 1000 80\r\n',
  'PROXY TCP4 192.0.2.1  192.0.2.2 1000 80\r\n', // two spaces
  'PROXY TCP4 192.0.2.1 192.0.2.2 +1000 80\r\n',
  'PROXY TCP4 192.0.2.1 192.0.2.2 01000 80\r\n',
  'PROXY TCP4 192.0.2.1 192.0.2.2 1000 65536\r\n',
  'PROXY TCP4 192.0.2.1 192.0.2.2 1000 80 extra\r\n',
  'PROXY TCP4 192.0.2.1\nX: 192.0.2.2 1000 80\r\n', // a bare LF
  'PROXY TCP4 192.0.2.1\0 192.0.2.2 1000 80\r\n', // a NUL
  'PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\n', // no CR
  'PROXY TCP5 192.0.2.1 192.0.2.2 1000 80\r\n',
];

describeOnEachEngine('tcp service with accept-proxy and proxy-protocol v2, hostile headers', () => {
  it('refuses each malformed PROXY v1 line, sends its member nothing, and serves the next client', async () => {
    const member = await recorder();
    const app = await startApp(single('tcp', pool('round-robin', [{ port: member.port }]), { acceptProxy: true, proxyProtocol: 'v2' }));
    const port = app.address('svc').port;
    for (const line of MALFORMED_V1) {
      const result = await exchange(port, `${line}payload`);
      assert.equal(result.ending, 'reset', `refused: ${JSON.stringify(line)}`);
      assert.equal(result.data.length, 0);
    }
    assert.equal(member.accepted, 0, 'no member connection for a refused header');
    assert.deepEqual(member.got, [], 'no byte reached the member');
    // the process is alive and the next good client is served, with a v2 header built from its line
    const good = await exchange(port, 'PROXY TCP6 2001:DB8:0:0::7 2001:db8::1 40000 443\r\npayload');
    assert.equal(good.ending, 'end');
    const [bytes] = member.got;
    assert.deepEqual(good.data, bytes);
    // exactly: signature, PROXY over TCP6, 36 bytes of addresses and ports, then the payload
    const expected = Buffer.concat([
      SIGNATURE, Buffer.from([0x21, 0x21, 0x00, 36]),
      Buffer.from('20010db8000000000000000000000007', 'hex'), Buffer.from('20010db8000000000000000000000001', 'hex'),
      Buffer.from([0x9c, 0x40, 0x01, 0xbb]), Buffer.from('payload'),
    ]);
    assert.deepEqual(bytes, expected);
  });

  it('logs and counts each refused header, with the reason', async () => {
    const member = await recorder();
    const { sink, lines } = logSink();
    const app = await Furiwake.start(single('tcp', pool('round-robin', [{ port: member.port }]), { acceptProxy: true }), createLogger('info', sink));
    after(() => app.stop(0));
    const port = app.address('svc').port;
    assert.equal((await exchange(port, 'PROXY TCP4 192.0.2.1 192.0.2.2 1000 65536\r\n')).ending, 'reset');
    assert.equal((await exchange(port, 'GET / HTTP/1.0\r\n\r\n')).ending, 'reset');
    assert.equal(app.runtime.resources.proxyHeadersRefused, 2);
    // one line per service per interval, however many (a flood of bad headers must not flood the log)
    const refused = lines.filter((l) => l.msg === 'PROXY header refused: the connection is closed').map((l) => [l.service, l.client, l.reason]);
    assert.deepEqual(refused, [['svc', '127.0.0.1', 'malformed PROXY v1 header: bad port "65536"']]);
  });

  it('refuses malformed PROXY v2 headers: unknown command, family, short addresses, broken TLVs', async () => {
    const member = await recorder();
    const app = await startApp(single('tcp', pool('round-robin', [{ port: member.port }]), { acceptProxy: true, proxyProtocol: 'v2' }));
    const port = app.address('svc').port;
    const v2 = (command: number, family: number, body: Buffer): Buffer => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(body.length);
      return Buffer.concat([SIGNATURE, Buffer.from([command, family]), length, body]);
    };
    const inet = Buffer.from([192, 0, 2, 1, 192, 0, 2, 2, 0x9c, 0x40, 0, 80]);
    for (const bad of [
      v2(0x22, 0x11, inet), // command 2
      v2(0x2f, 0x11, inet), // command 15
      v2(0x21, 0x13, inet), // transport 3
      v2(0x21, 0x41, inet), // family 4
      v2(0x21, 0x11, inet.subarray(0, 8)), // addresses shorter than IPv4's
      v2(0x21, 0x21, inet), // IPv6 with IPv4's length
      v2(0x21, 0x11, Buffer.concat([inet, Buffer.from([0x04, 0x00, 0x09, 1])])), // a TLV longer than the header
      v2(0x21, 0x11, Buffer.concat([inet, Buffer.from([0x04, 0x00])])), // half a TLV
      v2(0x31, 0x11, inet), // version 3
    ]) {
      const result = await exchange(port, Buffer.concat([bad, Buffer.from('payload')]));
      assert.equal(result.ending, 'reset', `refused: ${bad.toString('hex')}`);
    }
    assert.equal(member.accepted, 0);
    // a good one, with a NOOP TLV, passes
    const good = await exchange(port, Buffer.concat([v2(0x21, 0x11, Buffer.concat([inet, Buffer.from([0x04, 0x00, 0x02, 0, 0])])), Buffer.from('payload')]));
    assert.equal(good.ending, 'end');
    assert.deepEqual([...member.got[0].subarray(16, 28)], [...inet]);
  });
});

describe('http service with accept-proxy, hostile headers', () => {
  it('refuses a PROXY line with a bare LF in an address: nothing reaches the member, X-Forwarded-For stays clean', async () => {
    const member = await httpRecorder();
    const app = await startApp(httpConfig(pool('round-robin', [{ port: member.port }]), {}, { acceptProxy: true }));
    const port = app.address('svc').port;
    // six space-separated words: the old parser took "192.0.2.1\nx-injected:1" as the source address
    const hostile = await raw(port, 'PROXY TCP4 192.0.2.1\nx-injected:1 192.0.2.2 1000 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(hostile.status, 0, 'no response: the connection is closed');
    assert.equal(member.accepted, 0);
    assert.equal(app.runtime.resources.proxyHeadersRefused, 1);
    const good = await raw(port, 'PROXY TCP4 198.51.100.7 192.0.2.2 1000 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(good.status, 200);
    assert.equal(member.heads.length, 1);
    assert.match(member.heads[0], /\r\nx-forwarded-for: 198\.51\.100\.7\r\n/);
    assert.doesNotMatch(member.heads.join(''), /injected/);
  });

  it('writes the canonical form of an IPv6 client into X-Forwarded-For', async () => {
    const member = await httpRecorder();
    const app = await startApp(httpConfig(pool('round-robin', [{ port: member.port }]), {}, { acceptProxy: true }));
    const good = await raw(app.address('svc').port, 'PROXY TCP6 2001:DB8:0:0:0:0:0:7 2001:db8::1 1000 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(good.status, 200);
    assert.match(member.heads[0], /\r\nx-forwarded-for: 2001:db8::7\r\n/);
  });
});

