// /metrics and the API by protocol: requests by the client's HTTP version and how the member was spoken to,
// and the open client connections by HTTP version, from real HTTP/1.1 and HTTP/2 clients through
// one service to an HTTP/1.1 pool and an h2c pool; in one loop and summed over two workers.

import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { h2Connect, h2Request } from '../proxy/http/h2-helpers.ts';
import { connection } from '../proxy/http/helpers.ts';
import { call, startAdminApp } from './helpers.ts';
import { protocolConfig } from './protocol-helpers.ts';
import { parsePrometheus, value, type Family } from './prometheus-text.ts';

async function metrics(base: string): Promise<Map<string, Family>> {
  const res = await call<string>(base, '/metrics');
  assert.equal(res.status, 200);
  return parsePrometheus(res.body);
}

/** A GET on a connection of its own (the kernel spreads them over the workers). */
function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

for (const workers of [1, 2]) {
  describe(`metrics by protocol (workers: ${workers})`, () => {
    it('counts requests by client and member protocol, and open client connections by HTTP version', async () => {
      const { app, base } = await startAdminApp(await protocolConfig(workers));
      const port = app.address('svc').port;
      for (let i = 0; i < 4; i++) assert.equal(await get(port, '/'), 200);
      for (let i = 0; i < 3; i++) assert.equal(await get(port, '/h2c/x'), 200);
      assert.equal(await get(port, '/none'), 404);
      const session = h2Connect(port, false);
      for (let i = 0; i < 2; i++) assert.equal((await h2Request(session, { ':path': '/' })).status, 200);
      for (let i = 0; i < 5; i++) assert.equal((await h2Request(session, { ':path': '/h2c/y' })).status, 200);
      assert.equal((await h2Request(session, { ':path': '/none' })).status, 404);
      // an HTTP/1.1 client that stays, beside the HTTP/2 one
      const kept = await connection(port);
      await kept.send('GET / HTTP/1.1\r\nHost: h\r\n\r\n', (got) => got.includes('\r\n\r\n'));

      const m = await metrics(base);
      const requests = (protocol: string, memberProtocol: string) => value(m, 'furiwake_http_requests_by_protocol_total', { service: 'svc', protocol, member_protocol: memberProtocol });
      assert.deepEqual(
        [requests('HTTP/1.1', 'http1'), requests('HTTP/1.1', 'h2c'), requests('HTTP/1.1', ''), requests('HTTP/2', 'http1'), requests('HTTP/2', 'h2c'), requests('HTTP/2', '')],
        [5, 3, 1, 2, 5, 1],
      );
      const open = (protocol: string) => value(m, 'furiwake_http_client_connections_active', { service: 'svc', protocol });
      assert.deepEqual([open('HTTP/1.1'), open('HTTP/2')], [1, 1]);
      // the status counts are the same requests, whatever their protocol
      assert.equal(value(m, 'furiwake_http_requests_total', { service: 'svc', member: 'a', code: '2xx' }), 7);
      assert.equal(value(m, 'furiwake_http_requests_total', { service: 'svc', member: 'b', code: '2xx' }), 8);

      // the API's service view: the same split
      const svc = (await call(base, '/api/v1/services/svc')).body as { protocols: { connections: { http1: number; http2: number }; requests: { protocol: string; memberProtocol: string; count: number }[] } };
      assert.deepEqual(svc.protocols.connections, { http1: 1, http2: 1 });
      const byPair = Object.fromEntries(svc.protocols.requests.map((r) => [`${r.protocol} ${r.memberProtocol}`, r.count]));
      assert.deepEqual(byPair, { 'HTTP/1.1 http1': 5, 'HTTP/1.1 h2c': 3, 'HTTP/1.1 ': 1, 'HTTP/2 http1': 2, 'HTTP/2 h2c': 5, 'HTTP/2 ': 1 });

      session.close();
      await kept.close();
      // both gone: the gauges say 0 (a worker's figures are as of its report, asked at each scrape)
      for (;;) {
        const now = await metrics(base);
        const o = (protocol: string) => value(now, 'furiwake_http_client_connections_active', { service: 'svc', protocol });
        if (o('HTTP/1.1') === 0 && o('HTTP/2') === 0) break;
      }
    });
  });
}
