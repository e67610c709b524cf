// Ending connections by hand through the admin API: one by id, those of a member, of a pool or
// of a service. Checked on the wire: a tcp client and its member see the reset, an http request
// in flight is cut with its member connection, a udp flow is forgotten (the next datagram starts
// a new one); the member's count of active connections follows.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import type net from 'node:net';
import { after, describe, it } from 'node:test';
import { endedSchema } from '../../src/admin/schemas.ts';
import { greeted, udpClient } from '../helpers/clients.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer, startUdpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';
import { connection, httpConfig, startMember } from '../proxy/http/helpers.ts';
import { call, startAdminApp } from './helpers.ts';

/** A tcp member that greets with its name; `ends` gets how each of its connections ended. */
async function greeter(name: string) {
  const ends: string[] = [];
  const server = await startTcpServer(name, (socket) => {
    socket.write(`${name}\n`);
    void ending(socket).then((how) => ends.push(how));
  });
  return Object.assign(server, { ends });
}

/** Two tcp members a and b behind service svc (pool p), round-robin. */
async function twoMembers() {
  const a = await greeter('a');
  const b = await greeter('b');
  const started = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }])));
  return { ...started, a, b, port: started.app.address('svc').port };
}

/** How a client connection ends: the error code it sees (ECONNRESET for a reset), or 'close'. It reads from now on, as a live client does. */
async function ending(socket: net.Socket): Promise<string> {
  let code = 'close';
  socket.on('error', (err: NodeJS.ErrnoException) => (code = err.code ?? 'error'));
  socket.resume();
  // not events.once: it would reject on the 'error' this waits to see
  if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve));
  return code;
}

/** The ids of the connection table's entries to member `id` of pool p. */
async function idsOn(base: string, id: string): Promise<number[]> {
  return (await call(base, `/api/v1/connections?pool=p&member=${id}`)).body.items.map((c: { id: number }) => c.id);
}

describeOnEachEngine('admin API: ending connections', () => {
  it('DELETE /api/v1/connections/{id}: a live tcp connection is reset on both sides; its member counts 0 active', async () => {
    const { app, base, port, a } = await twoMembers();
    const live = await greeted(port);
    assert.equal(live.line, 'a');
    const [id] = await idsOn(base, 'a');
    const noToken = await call(base, `/api/v1/connections/${id}`, { method: 'DELETE', token: null });
    assert.equal(noToken.status, 401);
    const wrong = await call(base, `/api/v1/connections/${id}`, { method: 'DELETE', token: 'not-the-token-0123456789' });
    assert.equal(wrong.status, 401);
    assert.equal(app.runtime.connections.size, 1, 'nothing ended without the token');
    const end = ending(live.socket);
    const ended = await call(base, `/api/v1/connections/${id}`, { method: 'DELETE' });
    assert.deepEqual([ended.status, endedSchema.parse(ended.body)], [200, { ended: 1, kernel: 0 }]);
    assert.equal(await end, 'ECONNRESET');
    await until(() => a.ends.length === 1 && app.runtime.member('p', 'a')!.active === 0);
    assert.deepEqual(a.ends, ['ECONNRESET'], 'the member sees the reset too');
    assert.equal((await call(base, '/api/v1/pools/p/members/a')).body.connections.active, 0);
    const again = await call(base, `/api/v1/connections/${id}`, { method: 'DELETE' });
    assert.deepEqual([again.status, again.body.error], [404, `no connection ${id}: it has ended, or never was (ids are in GET /api/v1/connections)`]);
    const bad = await call(base, '/api/v1/connections/abc', { method: 'DELETE' });
    assert.deepEqual([bad.status, bad.body.error], [400, 'expected a connection id (a whole number, as GET /api/v1/connections shows), got "abc"']);
  });

  it('DELETE /api/v1/connections?pool=&member=: every connection of that member, none of the others; then the service', async () => {
    const { app, base, port, a, b } = await twoMembers();
    const clients = [await greeted(port), await greeted(port), await greeted(port), await greeted(port)];
    assert.deepEqual(clients.map((c) => c.line), ['a', 'b', 'a', 'b']);
    const ends = clients.map((c) => ending(c.socket));
    const ofA = await call(base, '/api/v1/connections?pool=p&member=a', { method: 'DELETE' });
    assert.deepEqual(ofA.body, { ended: 2, kernel: 0 });
    assert.deepEqual(await Promise.all([ends[0], ends[2]]), ['ECONNRESET', 'ECONNRESET']);
    await until(() => a.ends.length === 2 && app.runtime.member('p', 'a')!.active === 0);
    assert.deepEqual(a.ends, ['ECONNRESET', 'ECONNRESET']);
    assert.equal(app.runtime.member('p', 'b')!.active, 2, "b's connections stay");
    assert.deepEqual([b.open, b.ends], [2, []]);
    const ofSvc = await call(base, '/api/v1/connections?service=svc', { method: 'DELETE' });
    assert.deepEqual(ofSvc.body, { ended: 2, kernel: 0 });
    assert.deepEqual(await Promise.all([ends[1], ends[3]]), ['ECONNRESET', 'ECONNRESET']);
    await until(() => app.runtime.connections.size === 0 && app.runtime.member('p', 'b')!.active === 0);
    assert.deepEqual((await call(base, '/api/v1/connections?pool=p', { method: 'DELETE' })).body, { ended: 0, kernel: 0 });
  });

  it('refuses a call without a filter (400), a member without its pool (400), and names what does not exist (404)', async () => {
    const { app, base, port } = await twoMembers();
    const live = await greeted(port);
    const none = await call(base, '/api/v1/connections', { method: 'DELETE' });
    assert.deepEqual([none.status, none.body.error], [400, 'invalid query: expected service, pool, or pool and member: which connections to end (nothing ends them all at once)']);
    const noPool = await call(base, '/api/v1/connections?member=a', { method: 'DELETE' });
    assert.deepEqual([noPool.status, noPool.body.error], [400, 'invalid query: member: member needs pool (member ids are unique within a pool)']);
    const unknown = await call(base, '/api/v1/connections?everything=true', { method: 'DELETE' });
    assert.equal(unknown.status, 400);
    const service = await call(base, '/api/v1/connections?service=nope', { method: 'DELETE' });
    assert.deepEqual([service.status, service.body.error], [404, 'no service named "nope"; services are: svc']);
    const poolMissing = await call(base, '/api/v1/connections?pool=q', { method: 'DELETE' });
    assert.deepEqual([poolMissing.status, poolMissing.body.error], [404, 'no pool named "q"; pools are: p']);
    const member = await call(base, '/api/v1/connections?pool=p&member=zz', { method: 'DELETE' });
    assert.deepEqual([member.status, member.body.error], [404, 'pool p has no member "zz"; its members are: a, b']);
    const noAuth = await call(base, '/api/v1/connections?service=svc', { method: 'DELETE', token: null });
    assert.equal(noAuth.status, 401);
    assert.equal(app.runtime.connections.size, 1, 'every refusal left the connection alone');
    live.socket.destroy();
    await once(live.socket, 'close');
  });

  it('an http connection ended: its request in flight is cut, its member connection closed', async () => {
    const held: { socket: net.Socket | null } = { socket: null };
    const member = await startMember('h', (req) => void (held.socket = req.socket)); // never answers
    const { app, base } = await startAdminApp(httpConfig(pool('round-robin', [{ port: member.port, id: 'h' }])));
    const client = await connection(app.address('svc').port);
    const answer = client.send('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n').then(() => 'answered', () => 'cut');
    await until(() => held.socket !== null);
    const [entry] = (await call(base, '/api/v1/connections?service=svc')).body.items;
    assert.deepEqual(entry.request, { method: 'GET', path: '/slow' });
    assert.deepEqual((await call(base, `/api/v1/connections/${entry.id}`, { method: 'DELETE' })).body, { ended: 1, kernel: 0 });
    assert.equal(await answer, 'cut');
    const upstream = held.socket as net.Socket | null;
    if (upstream !== null && !upstream.destroyed) await once(upstream, 'close');
    await until(() => app.runtime.connections.size === 0 && app.runtime.member('p', 'h')!.active === 0);
  });
});

describe('admin API: ending udp flows', () => {
  it('a udp flow ended: forgotten, its member socket closed; the next datagram starts a new flow', async () => {
    const echo = await startUdpServer('u');
    after(() => echo.close());
    const { app, base } = await startAdminApp(single('udp', pool('round-robin', [{ port: echo.port, id: 'u' }])));
    const vip = app.address('svc').port;
    const client = await udpClient();
    after(() => client.close());
    assert.equal((await client.ask(vip, 'one')).text, 'u:one');
    const [flow] = (await call(base, '/api/v1/connections?service=svc')).body.items;
    assert.deepEqual((await call(base, `/api/v1/connections/${flow.id}`, { method: 'DELETE' })).body, { ended: 1, kernel: 0 });
    assert.equal(app.runtime.connections.size, 0);
    assert.equal(app.runtime.member('p', 'u')!.active, 0);
    assert.equal((await client.ask(vip, 'two')).text, 'u:two');
    const [next] = (await call(base, '/api/v1/connections?service=svc')).body.items;
    assert.notEqual(next.id, flow.id, 'a new flow');
    assert.notEqual(next.balancer.port, flow.balancer.port, 'through a new socket toward the member');
    assert.deepEqual(echo.from, [`127.0.0.1:${flow.balancer.port}`, `127.0.0.1:${next.balancer.port}`]);
  });
});
