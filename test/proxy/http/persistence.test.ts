// Persistence on http services, end to end: source-ip across connections, the cookie in its
// three modes through a client that keeps its cookies (what members see and what clients get),
// a forged cookie that does not choose a member, the member id in the URL, a hashed user id;
// a pinned member that goes down gives way and the client is pinned again.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { PersistenceConfig } from '../../../src/config/persistence-types.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { freePort } from '../../helpers/ports.ts';
import { bodyOf, connection, httpConfig, startMember, type HttpMember } from './helpers.ts';
import { until } from '../../helpers/wait.ts';

/** Two members named m1 and m2 that answer with their name; `handler` may add headers. */
async function twoMembers(setCookie?: string): Promise<HttpMember[]> {
  return Promise.all(['m1', 'm2'].map((name) => startMember(name, (req, res) => {
    if (setCookie !== undefined) res.setHeader('set-cookie', setCookie);
    res.end(name);
  })));
}

async function appWith(members: HttpMember[], persistence: PersistenceConfig) {
  const config = httpConfig(pool('round-robin', members.map((m) => ({ port: m.port, id: m.name }))));
  config.services.svc.persistence = persistence;
  return startApp(config);
}

/** A client that keeps the cookies it is sent, as a browser does, on a new connection per request. */
function cookieClient(port: number) {
  const jar = new Map<string, string>();
  return {
    jar,
    async get(path: string): Promise<{ body: string; setCookies: string[] }> {
      const c = await connection(port);
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const got = await c.send(`GET ${path} HTTP/1.1\r\nHost: shop.example\r\n${cookie === '' ? '' : `Cookie: ${cookie}\r\n`}\r\n`);
      await c.close();
      const setCookies = [...got.slice(0, got.indexOf('\r\n\r\n')).matchAll(/\r\nset-cookie: *([^\r]*)/gi)].map((m) => m[1]);
      for (const sc of setCookies) {
        const pair = sc.split(';')[0];
        const eq = pair.indexOf('=');
        jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
      }
      return { body: bodyOf(got), setCookies };
    },
  };
}

const cookie = (mode: 'insert' | 'rewrite' | 'prefix', name: string): PersistenceConfig => ({
  method: 'cookie', whenFull: 'repin', cookie: name, mode, path: '/', domain: null, httpOnly: true, secure: false, sameSite: 'lax', maxAge: null, secret: 'test-secret', exposeAddress: false,
});

describeOnEachEngine('persistence on http services', () => {
  it('source-ip keeps one client on one member across connections', async () => {
    const members = await twoMembers();
    const app = await appWith(members, { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 600_000, maxEntries: 100 });
    const answers = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const c = await connection(app.address('svc').port);
      answers.add(bodyOf(await c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n')));
      await c.close();
    }
    assert.equal(answers.size, 1);
    assert.equal(app.runtime.services.get('svc')!.stickTable!.size, 1);
  });

  it('cookie insert: furiwake sets its cookie, the client is kept, members never see it', async () => {
    const members = await twoMembers();
    const app = await appWith(members, cookie('insert', 'FWSRV'));
    const client = cookieClient(app.address('svc').port);
    const first = await client.get('/');
    assert.equal(first.setCookies.length, 1);
    assert.match(first.setCookies[0], /^FWSRV=[A-Za-z0-9_-]{16}; Path=\/; HttpOnly; SameSite=Lax$/);
    client.jar.set('app', 'x');
    for (let i = 0; i < 4; i++) {
      const next = await client.get('/again');
      assert.equal(next.body, first.body);
      assert.deepEqual(next.setCookies, []); // the client holds the right one already
    }
    const pinned = members.find((m) => m.name === first.body)!;
    assert.equal(pinned.requests.length, 5);
    for (const r of [...members[0].requests, ...members[1].requests]) assert.doesNotMatch(String(r.headers.cookie ?? ''), /FWSRV/);
    assert.equal(pinned.requests[1].headers.cookie, 'app=x');
  });

  it('cookie insert: a forged or unknown cookie does not choose the member and is replaced', async () => {
    const members = await twoMembers();
    const app = await appWith(members, cookie('insert', 'FWSRV'));
    const client = cookieClient(app.address('svc').port);
    const served = new Map<string, string>(); // member -> its token
    for (let i = 0; i < 2; i++) {
      client.jar.clear();
      const r = await client.get('/');
      served.set(r.body, client.jar.get('FWSRV')!);
    }
    assert.equal(served.size, 2);
    // a value that is no token: ignored (the algorithm chooses) and replaced by a real one
    client.jar.set('FWSRV', 'm2');
    const forged = await client.get('/');
    assert.equal(forged.setCookies.length, 1);
    assert.equal(client.jar.get('FWSRV'), served.get(forged.body));
  });

  it('cookie rewrite: the member sets the cookie, the client gets the member token in its place', async () => {
    const members = await twoMembers('JSESSIONID=abc123; Path=/');
    const app = await appWith(members, cookie('rewrite', 'JSESSIONID'));
    const client = cookieClient(app.address('svc').port);
    const first = await client.get('/');
    assert.match(first.setCookies[0], /^JSESSIONID=[A-Za-z0-9_-]{16}; Path=\/$/);
    for (let i = 0; i < 3; i++) assert.equal((await client.get('/')).body, first.body);
  });

  it('cookie prefix: the member id goes before the application value and is taken off again', async () => {
    const members = await twoMembers('JSESSIONID=abc123; Path=/');
    const app = await appWith(members, cookie('prefix', 'JSESSIONID'));
    const client = cookieClient(app.address('svc').port);
    const first = await client.get('/');
    assert.match(first.setCookies[0], /^JSESSIONID=[A-Za-z0-9_-]{16}~abc123; Path=\/$/);
    const again = await client.get('/');
    assert.equal(again.body, first.body);
    const pinned = members.find((m) => m.name === first.body)!;
    assert.equal(pinned.requests[1].headers.cookie, 'JSESSIONID=abc123');
  });

  it('url: the member id in a path parameter chooses the member', async () => {
    const members = await twoMembers();
    const app = await appWith(members, { method: 'url', whenFull: 'repin', source: 'path-parameter', name: 'jsessionid', segment: null, separator: '.' });
    const c = await connection(app.address('svc').port);
    for (const id of ['m2', 'm2', 'm1', 'm2', 'm1']) {
      assert.equal(bodyOf(await c.send(`GET /cart;jsessionid=ABC.${id}?x=1 HTTP/1.1\r\nHost: x\r\n\r\n`)), id);
    }
    await c.close();
  });

  it('hash: one user id keeps one member; a member that goes down hands its users over', async () => {
    const members = await twoMembers();
    const app = await appWith(members, { method: 'hash', whenFull: 'repin', source: 'header', name: 'x-user', segment: null });
    const c = await connection(app.address('svc').port);
    const ask = async (user: string): Promise<string> => bodyOf(await c.send(`GET / HTTP/1.1\r\nHost: x\r\nX-User: ${user}\r\n\r\n`));
    const owners = new Map<string, string>();
    for (let u = 0; u < 20; u++) owners.set(`user${u}`, await ask(`user${u}`));
    assert.equal(new Set(owners.values()).size, 2, 'users spread over both members');
    for (const [user, owner] of owners) assert.equal(await ask(user), owner);
    app.runtime.member('p', 'm1')!.setHealth('down', 'test');
    for (const user of owners.keys()) assert.equal(await ask(user), 'm2');
    await c.close();
  });

  it('re-pins a cookie client when its member goes down', async () => {
    const members = await twoMembers();
    const app = await appWith(members, cookie('insert', 'FWSRV'));
    const client = cookieClient(app.address('svc').port);
    const first = await client.get('/');
    app.runtime.member('p', first.body)!.setHealth('down', 'test');
    const moved = await client.get('/');
    assert.notEqual(moved.body, first.body);
    assert.equal(moved.setCookies.length, 1);
    assert.equal((await client.get('/')).body, moved.body);
  });
  it('a cookie client whose member refuses connections is retried on another member, and given its cookie', async () => {
    const m2 = await startMember('m2', (req, res) => res.end('m2'));
    const config = httpConfig(pool('round-robin', [{ port: await freePort(), id: 'm1' }, { port: m2.port, id: 'm2' }]));
    config.services.svc.persistence = cookie('insert', 'FWSRV');
    const app = await startApp(config);
    const client = cookieClient(app.address('svc').port);
    const m1 = app.runtime.member('p', 'm1')!;
    client.jar.set('FWSRV', app.runtime.services.get('svc')!.persistence!.cookie!.valueFor(m1));
    const moved = await client.get('/');
    assert.equal(moved.body, 'm2');
    assert.equal(moved.setCookies.length, 1);
    assert.equal(m1.failed, 1);
    assert.equal((await client.get('/')).body, 'm2');
    assert.equal(m1.failed, 1); // the new cookie no longer names the member that failed
  });

  it('when-full wait: a request whose member is busy at its limit waits for it, though another has room', async () => {
    // each member takes one request at a time; /slow is answered when the test says so
    const slow: (() => void)[] = [];
    const members = await Promise.all(['m1', 'm2'].map((name) => startMember(name, (req, res) => {
      if (req.url === '/slow') slow.push(() => res.end(`${name} slow`));
      else res.end(name);
    })));
    const config = httpConfig(pool('round-robin', members.map((m) => ({ port: m.port, id: m.name, maxConnections: 1 })), { max: 10, timeout: 10_000 }));
    config.services.svc.persistence = { ...cookie('insert', 'FWSRV'), whenFull: 'wait' };
    const app = await startApp(config);
    const port = app.address('svc').port;
    const client = cookieClient(port);
    assert.equal((await client.get('/')).body, 'm1');
    // m1 busy with the client's slow request; the client's next one waits for m1, not for m2
    const busy = client.get('/slow');
    await until(() => slow.length === 1);
    const next = client.get('/next');
    const p = app.runtime.pools.get('p')!;
    await until(() => p.queued === 1);
    assert.equal(members[1].requests.length, 0);
    slow[0]();
    assert.equal((await busy).body, 'm1 slow');
    assert.equal((await next).body, 'm1');
    assert.deepEqual(members.map((m) => m.requests.map((r) => r.url)), [['/', '/slow', '/next'], []]);
  });
});
