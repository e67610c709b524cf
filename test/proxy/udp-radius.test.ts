// `balance-per: radius-request` end to end: a RADIUS client on one source port, real FreeRADIUS
// servers and small RADIUS servers (the `radius` package) on loopback behind a udp service.
// Each request is balanced on its own; a retransmit and an EAP State round keep their member;
// every answer reaches the client intact (signed for its own request); malformed datagrams are
// dropped and counted.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { UdpListener } from '../../src/proxy/udp-listener.ts';
import { call, startAdminApp } from '../admin/helpers.ts';
import { parsePrometheus, value } from '../admin/prometheus-text.ts';
import { startApp } from '../helpers/app.ts';
import { until } from '../helpers/wait.ts';
import { startFreeRadius, type FreeRadius } from '../health/helpers-proto-radius.ts';
import { accessRequest, radiusClient, radiusService, SECRET, startChallenger } from './udp-radius-helpers.ts';

describe('udp service with balance-per: radius-request', () => {
  let servers: FreeRadius[];
  before(async () => {
    servers = await Promise.all([startFreeRadius(SECRET, { alice: 'wonderland' }), startFreeRadius(SECRET, { alice: 'wonderland' })]);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.peer.stop()));
  });

  it('spreads the requests of one client port over both FreeRADIUS servers; every one is accepted', async () => {
    const app = await startApp(radiusService(servers.map((s) => s.port)));
    const vip = app.address('svc');
    const client = await radiusClient();
    for (let id = 0; id < 8; id++) {
      const answer = await client.ask(vip.port, accessRequest(id, 'alice', 'wonderland'));
      assert.equal(answer.code, 'Access-Accept');
      assert.equal(answer.identifier, id);
    }
    // each server saw requests of its own (printed before it answers)
    await Promise.all(servers.map((s) => s.peer.waitFor(/Received Access-Request Id \d+ from 127\.0\.0\.1/)));
    assert.equal(app.runtime.member('p', 'a')!.total, 4);
    assert.equal(app.runtime.member('p', 'b')!.total, 4);
    // one flow per (client, member): two upstream sockets for the one client port
    assert.equal(app.runtime.connections.size, 2);
    const listener = app.listener('svc') as UdpListener;
    assert.equal(listener.messages!.malformed, 0);
    assert.equal(listener.messages!.unmatched, 0);
    await client.close();
  });

  it('drops and counts datagrams that are not RADIUS requests; the next request is served', async () => {
    const app = await startApp(radiusService(servers.map((s) => s.port)));
    const vip = app.address('svc');
    const client = await radiusClient();
    const good = accessRequest(7, 'alice', 'wonderland');
    const longer = Buffer.from(good);
    longer.writeUInt16BE(good.length + 1, 2); // Length past the datagram
    const badAttribute = Buffer.from(good);
    badAttribute[21] = 1; // the first attribute's length below 2
    const reply = Buffer.from(good);
    reply[0] = 2; // an Access-Accept is no request
    for (const bad of [Buffer.from('hello'), longer, badAttribute, reply]) client.send(vip.port, bad);
    // datagrams of one socket are read in order: the good one comes after the bad ones
    assert.equal((await client.ask(vip.port, good)).code, 'Access-Accept');
    const listener = app.listener('svc') as UdpListener;
    assert.equal(listener.messages!.malformed, 4);
    assert.equal(app.runtime.member('p', 'a')!.total + app.runtime.member('p', 'b')!.total, 1);
    await client.close();
  });
});

describe('RADIUS sessions across members', () => {
  it('sends a request with a State to the member whose Access-Challenge issued it', async () => {
    const challengers = await Promise.all([startChallenger('a'), startChallenger('b')]);
    const app = await startApp(radiusService(challengers.map((c) => c.port)));
    const vip = app.address('svc');
    const client = await radiusClient();
    let id = 0;
    const issuers: string[] = [];
    for (let round = 0; round < 4; round++) {
      const challenge = await client.ask(vip.port, accessRequest(id++, 'alice', 'x'));
      assert.equal(challenge.code, 'Access-Challenge');
      const state = challenge.attributes.State as Buffer;
      issuers.push(state.toString()[0]);
      const answer = await client.ask(vip.port, accessRequest(id++, 'alice', 'x', state));
      assert.equal(answer.code, 'Access-Accept', `round ${round}: the State went to another server`);
      assert.equal(answer.attributes['Reply-Message'], state.toString()[0]);
    }
    // new sessions were balanced over both servers
    assert.deepEqual(new Set(issuers), new Set(['a', 'b']));
    await client.close();
  });

  it('balances a State round anew when the member that issued the State no longer serves', async () => {
    const challengers = await Promise.all([startChallenger('a'), startChallenger('b')]);
    const app = await startApp(radiusService(challengers.map((c) => c.port)));
    const vip = app.address('svc');
    const client = await radiusClient();
    const challenge = await client.ask(vip.port, accessRequest(1, 'alice', 'x'));
    assert.equal((challenge.attributes.State as Buffer).toString(), 'a-0');
    app.runtime.member('p', 'a')!.setAdmin('disabled');
    // b does not know a's State: it rejects, which shows where the request went
    const answer = await client.ask(vip.port, accessRequest(2, 'alice', 'x', challenge.attributes.State as Buffer));
    assert.equal(answer.code, 'Access-Reject');
    assert.equal(answer.attributes['Reply-Message'], 'b');
    await client.close();
  });

  it('sends a retransmit (same Identifier and authenticator) to the member of its first copy', async () => {
    const challengers = await Promise.all([startChallenger('a'), startChallenger('b')]);
    const app = await startApp(radiusService(challengers.map((c) => c.port)));
    const vip = app.address('svc');
    const client = await radiusClient();
    const request = accessRequest(42, 'alice', 'x');
    const first = await client.ask(vip.port, request);
    const again = await client.ask(vip.port, request);
    assert.equal(first.code, 'Access-Challenge');
    assert.equal(again.code, 'Access-Challenge');
    // round-robin would have sent a new request to b
    assert.equal(challengers[0].received.length, 2);
    assert.equal(challengers[1].received.length, 0);
    // the same Identifier with a new authenticator is a new request: balanced anew
    assert.equal((await client.ask(vip.port, accessRequest(42, 'alice', 'x'))).code, 'Access-Challenge');
    assert.equal(challengers[1].received.length, 1);
    await client.close();
  });

  it('passes on only answers to requests the client sent to that member', async () => {
    const app = await startApp(radiusService([(await startChallenger('a', true)).port]));
    const vip = app.address('svc');
    const client = await radiusClient();
    // the member's datagrams come in order: its answer comes after the two it must not pass on
    assert.equal((await client.ask(vip.port, accessRequest(1, 'alice', 'x'))).code, 'Access-Challenge');
    assert.equal(client.received.length, 1);
    assert.equal((app.listener('svc') as UdpListener).messages!.unmatched, 2);
    await client.close();
  });
});

describe('RADIUS drops in the metrics and the API', () => {
  it('counts malformed requests, stray member answers and requests with no usable member per service', async () => {
    const { app, base } = await startAdminApp(radiusService([(await startChallenger('a', true)).port]));
    const vip = app.address('svc');
    const client = await radiusClient();
    const reply = accessRequest(3, 'alice', 'x');
    reply[0] = 2; // an Access-Accept is no request
    for (const bad of [Buffer.from('hello'), reply, Buffer.alloc(0)]) client.send(vip.port, bad);
    // the client's and the member's datagrams are each read in order: the answer comes after the drops
    assert.equal((await client.ask(vip.port, accessRequest(1, 'alice', 'x'))).code, 'Access-Challenge');
    const a = app.runtime.member('p', 'a')!;
    a.setAdmin('disabled');
    client.send(vip.port, accessRequest(2, 'alice', 'x'));
    const listener = app.listener('svc') as UdpListener;
    await until(() => listener.dropped === 1);
    a.setAdmin('enabled');
    assert.equal((await client.ask(vip.port, accessRequest(4, 'alice', 'x'))).code, 'Access-Challenge');

    const text = await (await fetch(`${base}/metrics`)).text();
    const m = parsePrometheus(text);
    assert.equal(m.get('furiwake_udp_datagrams_dropped_total')?.type, 'counter');
    const dropped = (reason: string) => value(m, 'furiwake_udp_datagrams_dropped_total', { service: 'svc', reason });
    assert.deepEqual([dropped('malformed'), dropped('unmatched'), dropped('no-member')], [3, 4, 1]);
    const view = await call(base, '/api/v1/services/svc');
    assert.equal(view.status, 200);
    assert.deepEqual(view.body.dropped, { malformed: 3, unmatched: 4, noMember: 1, denied: 0 });
    await client.close();
  });
});
