// https services: TLS terminated with the certificate the client's SNI names (the first one
// for no SNI or an unknown name), ALPN h2 and http/1.1, certificates read from files named relative to
// the config and read again on reload; TLS towards members with and without verification;
// the redirect from http to https.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { after, it } from 'node:test';
import { promisify } from 'node:util';
import { Furiwake } from '../../../src/app.ts';
import { ConfigError, loadConfig } from '../../../src/config/load.ts';
import type { Config } from '../../../src/config/types.ts';
import { createLogger } from '../../../src/log.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { proxyHeader } from '../../../src/proxy/proxy-protocol.ts';
import { caSigned, certDir, selfSigned } from './certs.ts';
import { bodyOf, headerOf, httpConfig, raw, startMember } from './helpers.ts';

const dir = certDir();
const a = selfSigned(dir, 'a', ['a.example.test', 'www.a.example.test']);
const b = selfSigned(dir, 'b', ['*.b.example.test']);

/** An https service in front of `memberPort`, loaded from a YAML file in the cert dir. */
async function httpsApp(memberPort: number): Promise<{ app: Furiwake; port: number; file: string }> {
  const file = join(dir, `https-${memberPort}.yaml`);
  writeFileSync(file, `global: { log-level: silent }
services:
  www:
    listen: 127.0.0.1:0
    mode: http
    pool: web
    tls:
      certificates:
        - { cert: a.pem, key: a.key }
        - { cert: ${b.cert}, key: ${b.key} }
pools:
  web:
    members: [ { address: 127.0.0.1:${memberPort} } ]
`);
  const app = await Furiwake.start(await loadConfig(file), createLogger('silent'));
  after(() => app.stop(0));
  return { app, port: app.address('www').port, file };
}

/** Handshakes with `servername` (none when undefined); the names of the certificate presented and the ALPN chosen. */
async function handshake(port: number, servername: string | undefined): Promise<{ names: string; alpn: string | false | null }> {
  const socket = tls.connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] });
  await once(socket, 'secureConnect');
  const names = socket.getPeerCertificate().subjectaltname ?? '';
  const alpn = socket.alpnProtocol;
  socket.resume(); // an h2 server speaks first (its SETTINGS): read it, else the close never comes
  socket.end();
  await once(socket, 'close');
  return { names, alpn };
}

describeOnEachEngine('https services', () => {
  it('presents the certificate the SNI names, the first one otherwise, and offers h2 (then http/1.1) in ALPN', async () => {
    const m = await startMember('a');
    const { port } = await httpsApp(m.port);
    assert.deepEqual(await handshake(port, 'a.example.test'), { names: 'DNS:a.example.test, DNS:www.a.example.test', alpn: 'h2' });
    assert.equal((await handshake(port, 'www.a.example.test')).names, 'DNS:a.example.test, DNS:www.a.example.test');
    assert.equal((await handshake(port, 'shop.b.example.test')).names, 'DNS:*.b.example.test');
    assert.equal((await handshake(port, 'other.test')).names, 'DNS:a.example.test, DNS:www.a.example.test');
    assert.equal((await handshake(port, undefined)).names, 'DNS:a.example.test, DNS:www.a.example.test');
  });

  it('serves requests over TLS that curl verifies, and tells the member the client used https', async () => {
    const m = await startMember('a');
    const { port } = await httpsApp(m.port);
    const run = promisify(execFile);
    const { stdout } = await run('curl', ['-sS', '--cacert', b.cert, '--resolve', `x.b.example.test:${port}:127.0.0.1`, `https://x.b.example.test:${port}/secure`]);
    assert.equal(stdout, 'a GET /secure');
    assert.equal(m.requests[0].headers['x-forwarded-proto'], 'https');
    const second = await run('curl', ['-sS', '--cacert', a.cert, '--resolve', `a.example.test:${port}:127.0.0.1`, `https://a.example.test:${port}/also`]);
    assert.equal(second.stdout, 'a GET /also');
  });

  it('reads renewed certificates on reload', async () => {
    const m = await startMember('a');
    const { app, port, file } = await httpsApp(m.port);
    const renewed = selfSigned(dir, 'renewed', ['a.example.test', 'renewed.example.test']);
    writeFileSync(file, (await import('node:fs')).readFileSync(file, 'utf8').replace('{ cert: a.pem, key: a.key }', '{ cert: renewed.pem, key: renewed.key }'));
    assert.deepEqual(await app.reload(await loadConfig(file)), []);
    assert.equal((await handshake(port, 'a.example.test')).names, 'DNS:a.example.test, DNS:renewed.example.test');
  });

  it('refuses a config whose certificate or key cannot be used, with the path', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `services:
  www:
    listen: 127.0.0.1:0
    mode: http
    pool: web
    tls:
      certificates:
        - { cert: missing.pem, key: a.key }
        - { cert: a.pem, key: b.key }
        - { cert: a.key, key: a.key }
pools:
  web:
    members: [ { address: 127.0.0.1:1 } ]
`);
    const err = await loadConfig(file).then(() => assert.fail('loaded'), (e: unknown) => e as ConfigError);
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.issues.map((i) => [i.path, i.message.replace(/:.*$/s, '')]), [
      ['services.www.tls.certificates[0].cert', 'cannot read missing.pem'],
      ['services.www.tls.certificates[1].key', 'this key does not belong to the certificate in a.pem'],
      ['services.www.tls.certificates[2].cert', 'not a PEM certificate'],
    ]);
  });
});

describeOnEachEngine('TLS to members', () => {
  const pki = caSigned(certDir(), ['DNS:member.test', 'IP:127.0.0.1']);

  async function tlsMember(): Promise<{ port: number; servernames: (string | false | null)[]; connections: () => number }> {
    const servernames: (string | false | null)[] = [];
    let connections = 0;
    const server = https.createServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (req, res) => {
      servernames.push((req.socket as tls.TLSSocket).servername);
      res.end(`tls member ${req.url}`);
    });
    server.on('secureConnection', () => connections++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    after(() => {
      server.closeAllConnections();
      server.close();
    });
    return { port: (server.address() as { port: number }).port, servernames, connections: () => connections };
  }

  function config(port: number, memberTls: NonNullable<Config['services'][string]['http']>['memberTls']): Config {
    return httpConfig(pool('round-robin', [{ port }]), { memberTls });
  }

  it('verifies the member against the CA and the SNI name, and keeps the connection', async () => {
    const m = await tlsMember();
    const app = await startApp(config(m.port, { verify: true, sni: 'member.test', caFile: 'ca.pem', ca: pki.ca.certPem }));
    for (const path of ['/1', '/2']) {
      const got = await raw(app.address('svc').port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(bodyOf(got.text), `tls member ${path}`);
    }
    assert.deepEqual(m.servernames, ['member.test', 'member.test']);
    assert.equal(m.connections(), 1);
  });

  it('answers 502 when the member certificate cannot be verified, and passes with verify off', async () => {
    const m = await tlsMember();
    const strict = await startApp(config(m.port, { verify: true, sni: 'member.test', caFile: null, ca: null }));
    const refused = await raw(strict.address('svc').port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(refused.status, 502);
    assert.match(bodyOf(refused.text), /cannot connect to a member: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|DEPTH_ZERO|unable)/i);
    const wrongName = await startApp(config(m.port, { verify: true, sni: 'other.test', caFile: null, ca: pki.ca.certPem }));
    assert.equal((await raw(wrongName.address('svc').port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 502);
    const lax = await startApp(config(m.port, { verify: false, sni: null, caFile: null, ca: null }));
    const got = await raw(lax.address('svc').port, 'GET /lax HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(bodyOf(got.text), 'tls member /lax');
  });
});

describeOnEachEngine('redirect to https', () => {
  it('answers every request with a redirect to the same host and path on https', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { redirectHttps: { port: 8443, status: 308 } }));
    const got = await raw(app.address('svc').port, 'GET /shop/cart?id=7 HTTP/1.1\r\nHost: www.example.test:8080\r\nConnection: close\r\n\r\n');
    assert.equal(got.status, 308);
    assert.equal(headerOf(got.text, 'location'), 'https://www.example.test:8443/shop/cart?id=7');
    const standard = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { redirectHttps: { port: 443, status: 301 } }));
    const plain = await raw(standard.address('svc').port, 'GET / HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n');
    assert.equal(plain.status, 301);
    assert.equal(headerOf(plain.text, 'location'), 'https://www.example.test/');
    assert.equal(m.accepted, 0);
  });
});

describeOnEachEngine('https behind a balancer that sends a PROXY header', () => {
  it('reads the header, then terminates TLS on the bytes that follow it', async () => {
    const m = await startMember('m');
    const config = httpConfig(pool('round-robin', [{ port: m.port }]), {}, { acceptProxy: true });
    const loaded = await loadConfig(join(dir, await httpsFile()));
    config.services.svc.http = { ...config.services.svc.http!, tls: loaded.services.www.http!.tls };
    const app = await startApp(config);
    const raw = net.connect({ port: app.address('svc').port, host: '127.0.0.1' });
    await once(raw, 'connect');
    // the header and the ClientHello leave in one segment, as a front balancer sends them
    const header = proxyHeader('v2', 'tcp', { address: '203.0.113.77', port: 4000 }, { address: '203.0.113.1', port: 443 });
    let first = true;
    const carrier = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        raw.write(first ? Buffer.concat([header, chunk]) : chunk, done);
        first = false;
      },
      final(done) {
        raw.end();
        done();
      },
    });
    raw.on('data', (c: Buffer) => carrier.push(c));
    raw.on('end', () => carrier.push(null));
    const secure = tls.connect({ socket: carrier, servername: 'a.example.test', rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    secure.write('GET /behind HTTP/1.1\r\nHost: a.example.test\r\nConnection: close\r\n\r\n');
    let text = '';
    secure.setEncoding('utf8').on('data', (c: string) => (text += c));
    await once(secure, 'end');
    assert.equal(bodyOf(text), 'm GET /behind');
    assert.equal(m.requests[0].headers['x-forwarded-for'], '203.0.113.77');
  });
});

/** A minimal https config file in the cert dir, for its loaded certificates. */
async function httpsFile(): Promise<string> {
  const name = 'https-proxied.yaml';
  writeFileSync(join(dir, name), `services:
  www: { listen: 127.0.0.1:0, mode: http, pool: web, tls: { certificates: [ { cert: a.pem, key: a.key } ] } }
pools:
  web: { members: [ { address: 127.0.0.1:1 } ] }
`);
  return name;
}
