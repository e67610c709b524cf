// The client's address when another balancer stands in front: a PROXY header read from the
// client (tcp and http services, `accept-proxy`), or X-Forwarded-For from trusted proxies (http,
// `trusted-proxies`). That address keys source-ip persistence, is sent on to members, and shows
// in the connection table; an untrusted peer cannot choose it.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { V1ProxyProtocol } from 'proxy-protocol-js';
import { Furiwake } from '../../src/app.ts';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import { createLogger } from '../../src/log.ts';
import { parseProxyHeader } from '../../src/proxy/proxy-header-reader.ts';
import { proxyHeader } from '../../src/proxy/proxy-protocol.ts';
import { forwardedAddress, TrustedProxies } from '../../src/proxy/http/client-address.ts';
import { logSink, startApp } from '../helpers/app.ts';
import { exchange } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import { bodyOf, connection, httpConfig, startMember } from './http/helpers.ts';

const sourceIp = (mask: number): PersistenceConfig => ({ method: 'source-ip', whenFull: 'repin', mask, mask6: 128, timeout: 600_000, maxEntries: 100 });

/** A member that records the bytes each connection brought, then answers with its name. */
async function recorder(name: string): Promise<TcpServer & { got: Buffer[] }> {
  const got: Buffer[] = [];
  const s = await startTcpServer(name, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      got.push(Buffer.concat(chunks));
      socket.end(name);
    });
  });
  return Object.assign(s, { got });
}

describe('PROXY header parsing', () => {
  it('reads v1 and v2 headers as the writer makes them, and says when more bytes are needed', () => {
    const source = { address: '192.0.2.7', port: 40000 };
    const destination = { address: '198.51.100.1', port: 443 };
    for (const version of ['v1', 'v2'] as const) {
      const header = proxyHeader(version, 'tcp', source, destination);
      const parsed = parseProxyHeader(Buffer.concat([header, Buffer.from('rest')]));
      assert.deepEqual(parsed, { addresses: { source, destination }, length: header.length, error: null });
      assert.equal(parseProxyHeader(header.subarray(0, 10)), 'more');
    }
    const v6 = parseProxyHeader(proxyHeader('v2', 'tcp', { address: '2001:db8::7', port: 1 }, { address: '2001:db8::1', port: 2 }));
    assert.equal(typeof v6 === 'object' && 'addresses' in v6 && v6.addresses?.source.address, '2001:db8::7');
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { addresses: null, length: 15, error: null });
    assert.deepEqual(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')), { error: 'expected a PROXY protocol header' });
    assert.match((parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n')) as { error: string }).error, /bad port/);
    assert.match((parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(110)}`)) as { error: string }).error, /longer than 107/);
  });
});

describeOnEachEngine('tcp service with accept-proxy', () => {
  it('keys persistence on the address in the header, passes it on, and forwards only the payload', async () => {
    const a = await recorder('a');
    const b = await recorder('b');
    const config = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }]), { acceptProxy: true, proxyProtocol: 'v1' });
    config.services.svc.persistence = sourceIp(24);
    const app = await startApp(config);
    const port = app.address('svc').port;
    const from = (address: string) => proxyHeader('v2', 'tcp', { address, port: 5555 }, { address: '203.0.113.1', port: 80 });
    // two clients of one /24 behind the front balancer land together; another network elsewhere
    const first = await exchange(port, Buffer.concat([from('10.1.2.3'), Buffer.from('one')]));
    const second = await exchange(port, Buffer.concat([from('10.1.2.200'), Buffer.from('two')]));
    const third = await exchange(port, Buffer.concat([from('10.9.9.9'), Buffer.from('three')]));
    assert.equal(first.data.toString(), second.data.toString());
    assert.notEqual(third.data.toString(), first.data.toString());
    const keys = app.runtime.services.get('svc')!.persistence!.table!.entries(10).map((e) => e.key).sort();
    assert.deepEqual(keys, ['10.1.2.0/24', '10.9.9.0/24']);
    // members got our PROXY v1 header naming the original client, then the payload alone
    const all = [...a.got, ...b.got].map((g) => g.toString('latin1'));
    const one = all.find((t) => t.endsWith('one'))!;
    const header = V1ProxyProtocol.parse(one.slice(0, one.indexOf('\r\n') + 2));
    assert.equal(header.source.ipAddress, '10.1.2.3');
    assert.equal(header.source.port, 5555);
    assert.equal(one.slice(one.indexOf('\r\n') + 2), 'one');
  });

  it('shows the proxied client in the connection table', async () => {
    const held = await startTcpServer('held');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: held.port }]), { acceptProxy: true }));
    const client = net.connect({ port: app.address('svc').port, host: '127.0.0.1' });
    client.on('error', () => {});
    await once(client, 'connect');
    client.write(proxyHeader('v1', 'tcp', { address: '192.0.2.50', port: 6000 }, { address: '192.0.2.1', port: 80 }));
    await once(client, 'data'); // the member's greeting: the connection is through
    const [entry] = [...app.runtime.connections.list()];
    assert.deepEqual(entry.client, { address: '192.0.2.50', port: 6000 });
    client.destroy();
  });

  it('resets a client that sends no PROXY header', async () => {
    const a = await recorder('a');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port }]), { acceptProxy: true }));
    const result = await exchange(app.address('svc').port, 'GET / HTTP/1.0\r\n\r\n');
    assert.equal(result.ending, 'reset');
    assert.equal(a.accepted, 0);
  });
});

describeOnEachEngine('http service: accept-proxy and trusted X-Forwarded-For', () => {
  it('keys source-ip on the PROXY header and tells the member in X-Forwarded-For', async () => {
    const m1 = await startMember('m1');
    const config = httpConfig(pool('round-robin', [{ port: m1.port, id: 'm1' }]), {}, { acceptProxy: true });
    config.services.svc.persistence = sourceIp(32);
    const app = await startApp(config);
    const c = await connection(app.address('svc').port);
    c.socket.write(proxyHeader('v1', 'tcp', { address: '198.51.100.23', port: 7000 }, { address: '198.51.100.1', port: 80 }));
    const reply = await c.send('GET /who HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.close();
    assert.equal(bodyOf(reply), 'm1 GET /who');
    assert.equal(m1.requests[0].headers['x-forwarded-for'], '198.51.100.23');
    assert.deepEqual(app.runtime.services.get('svc')!.persistence!.table!.entries(10).map((e) => e.key), ['198.51.100.23']);
  });

  it('believes X-Forwarded-For only from trusted proxies', async () => {
    const m1 = await startMember('m1');
    const ask = async (trusted: string[], xff: string): Promise<string[]> => {
      const config = httpConfig(pool('round-robin', [{ port: m1.port, id: 'm1' }]), { trustedProxies: trusted });
      config.services.svc.persistence = sourceIp(24);
      const app = await startApp(config);
      const c = await connection(app.address('svc').port);
      await c.send(`GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${xff}\r\n\r\n`);
      await c.close();
      return app.runtime.services.get('svc')!.persistence!.table!.entries(10).map((e) => e.key);
    };
    // from a trusted peer: the rightmost address that is not itself a trusted proxy
    assert.deepEqual(await ask(['127.0.0.1/32', '10.0.0.0/8'], '203.0.113.9, 10.0.0.5'), ['203.0.113.0/24']);
    // from an untrusted peer: the header is ignored, whatever it says
    assert.deepEqual(await ask(['10.0.0.0/8'], '203.0.113.9'), ['127.0.0.0/24']);
  });

  it('names the trusted client in the access log, with the proxy that sent it as the peer', async () => {
    const m1 = await startMember('m1');
    const { sink, lines } = logSink();
    const app = await Furiwake.start(httpConfig(pool('round-robin', [{ port: m1.port, id: 'm1' }]), { trustedProxies: ['127.0.0.1/32'] }), createLogger('info', sink));
    after(() => app.stop(0));
    const c = await connection(app.address('svc').port);
    await c.send('GET /a HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n');
    await c.send('GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.close();
    const requests = lines.filter((l) => l.msg === 'request').map((l) => [l.path, l.client, l.peer]);
    assert.deepEqual(requests, [['/a', '203.0.113.9', '127.0.0.1'], ['/b', '127.0.0.1', undefined]]);
  });

  it('writes only a validated address toward members: canonical, unmapped, or "unknown"', () => {
    assert.equal(forwardedAddress('192.0.2.1'), '192.0.2.1');
    assert.equal(forwardedAddress('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(forwardedAddress('2001:DB8:0::7'), '2001:db8::7');
    for (const bad of ['192.0.2.1\r\nx-injected: 1', '192.0.2.1\nx: 1', '', 'fe80::1%eth0', '192.0.2.1, 10.0.0.1', 'unknown']) {
      assert.equal(forwardedAddress(bad), 'unknown', JSON.stringify(bad));
    }
  });

  it('walks X-Forwarded-For from the right, stops at garbage, and unmaps IPv4-mapped peers', () => {
    const trusted = new TrustedProxies(['10.0.0.0/8', '127.0.0.1/32']);
    assert.equal(trusted.clientOf('::ffff:127.0.0.1', '192.0.2.1, 10.1.1.1, 10.2.2.2'), '192.0.2.1');
    assert.equal(trusted.clientOf('127.0.0.1', 'not-an-ip, 10.1.1.1'), '10.1.1.1');
    assert.equal(trusted.clientOf('192.0.2.99', '10.1.1.1'), '192.0.2.99');
    assert.equal(trusted.clientOf('127.0.0.1', undefined), '127.0.0.1');
  });
});
