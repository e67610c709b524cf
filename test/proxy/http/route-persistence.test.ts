// A route's own persistence, end to end: its requests stick to one member of its pool by the
// route's cookie while the service's other requests are balanced (or follow the service's own
// cookie), with two worker threads taking the connections; a reload that keeps the route's
// settings keeps its clients where they were.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseConfig } from '../../../src/config/load.ts';
import { startApp } from '../../helpers/app.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { bodyOf, connection, startMember, type HttpMember } from './helpers.ts';

async function members(...names: string[]): Promise<HttpMember[]> {
  return Promise.all(names.map((name) => startMember(name, (_req, res) => res.end(name))));
}

function yaml(web: HttpMember[], shop: HttpMember[], servicePersistence = ''): string {
  const list = (ms: HttpMember[]) => ms.map((m) => `{ address: 127.0.0.1:${m.port}, id: ${m.name} }`).join(', ');
  return `global: { log-level: silent, workers: 2 }
services:
  www: { listen: 127.0.0.1:0, mode: http, pool: web, ${servicePersistence}
    routes: [ { name: shop, match: { path-prefix: /shop/ }, pool: shop, persistence: { method: cookie, cookie: SHOP, secret: route-secret-0123456789 } } ] }
pools:
  web: { algorithm: round-robin, members: [ ${list(web)} ] }
  shop: { algorithm: round-robin, members: [ ${list(shop)} ] }
`;
}

/** One request on a new connection (either worker thread may take it), with `cookie`; the body and the Set-Cookie values. */
async function get(port: number, path: string, cookie = ''): Promise<{ body: string; setCookies: string[] }> {
  const c = await connection(port);
  const got = await c.send(`GET ${path} HTTP/1.1\r\nHost: shop.example\r\n${cookie === '' ? '' : `Cookie: ${cookie}\r\n`}\r\n`);
  await c.close();
  const setCookies = [...got.slice(0, got.indexOf('\r\n\r\n')).matchAll(/\r\nset-cookie: *([^\r]*)/gi)].map((m) => m[1]);
  return { body: bodyOf(got), setCookies };
}

describeOnEachEngine('persistence per route', () => {
  it('a route sticks to one member by its cookie while the service balances', async () => {
    const web = await members('w1', 'w2');
    const shop = await members('s1', 's2');
    const app = await startApp(parseConfig(yaml(web, shop), 'p.yaml', {}));
    const port = app.address('www').port;

    const first = await get(port, '/shop/cart');
    assert.equal(first.setCookies.length, 1);
    assert.match(first.setCookies[0], /^SHOP=[^;]+; Path=\//);
    const cookie = first.setCookies[0].split(';')[0];
    for (let i = 0; i < 8; i++) {
      const again = await get(port, `/shop/item/${i}`, cookie);
      assert.equal(again.body, first.body);
      assert.deepEqual(again.setCookies, []);
    }
    assert.equal((first.body === 's1' ? shop[0] : shop[1]).requests.length, 9);

    // the service's own requests: no cookie, balanced over both members (one connection: one thread's round-robin)
    const c = await connection(port);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const got = await c.send(`GET /page/${i} HTTP/1.1\r\nHost: shop.example\r\nCookie: ${cookie}\r\n\r\n`);
      assert.doesNotMatch(got, /set-cookie/i);
      seen.add(bodyOf(got));
    }
    await c.close();
    assert.deepEqual([...seen].sort(), ['w1', 'w2']);
    // the member behind the route does not see furiwake's cookie
    assert.ok(shop.every((m) => m.requests.every((r) => r.headers.cookie === undefined)));
  });

  it('the route\'s cookie, not the service\'s, chooses the route\'s member; a reload that keeps them keeps the clients', async () => {
    const web = await members('w1', 'w2');
    const shop = await members('s1', 's2');
    const text = yaml(web, shop, 'persistence: { method: cookie, cookie: WEB, secret: service-secret-0123456789 },');
    const app = await startApp(parseConfig(text, 'p.yaml', {}));
    const port = app.address('www').port;

    const page = await get(port, '/');
    assert.match(page.setCookies[0] ?? '', /^WEB=/);
    const cart = await get(port, '/shop/', page.setCookies[0].split(';')[0]);
    assert.match(cart.setCookies[0] ?? '', /^SHOP=/, 'the WEB cookie does not choose a member of the route');
    const cookies = `${page.setCookies[0].split(';')[0]}; ${cart.setCookies[0].split(';')[0]}`;

    await app.reload(parseConfig(text, 'p.yaml', {}));
    for (let i = 0; i < 4; i++) {
      assert.equal((await get(port, '/', cookies)).body, page.body);
      assert.equal((await get(port, '/shop/x', cookies)).body, cart.body);
    }
  });
});
