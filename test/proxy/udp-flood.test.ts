// A udp flood from thousands of source ports against a furiwake whose descriptor limit is low
// (a child process under prlimit): the flow table stays at the bound the descriptor budget
// allows, a tcp service, an http service and the admin API on the same process keep answering,
// memory stays flat, and an old flood flow gives way to a new client.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import type { UdpListener } from '../../src/proxy/udp-listener.ts';
import { startApp } from '../helpers/app.ts';
import { pool, single } from '../helpers/config.ts';
import { readFileLimit } from '../../src/runtime/fd-budget.ts';
import { greeting, udpClient } from '../helpers/clients.ts';
import { startTcpServer, startUdpServer } from '../helpers/servers.ts';
import { startMember } from './http/helpers.ts';
import { get, startLimited } from './limited-process.ts';
import { until } from '../helpers/wait.ts';

/** source ports the flood comes from, a batch at a time */
const FLOOD = 3_000;
const BATCH = 100;

/** One datagram from each of `count` new source ports; the sockets close after sending. */
async function burst(port: number, count: number): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: count }, async () => {
    const s = dgram.createSocket('udp4');
    s.on('error', () => {});
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    return s;
  }));
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.send('flood', port, '127.0.0.1', () => resolve()))));
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
}

describe('a udp flood against a process with few descriptors', () => {
  it('keeps tcp, http and admin clients served, the flow table at its bound and memory flat', async () => {
    const udpMember = await startUdpServer('u');
    const tcpMember = await startTcpServer('t');
    const httpMember = await startMember('h');
    after(() => Promise.all([udpMember.close(), tcpMember.close()]));
    // a soft limit of 128 under a hard one of 256: the soft one is raised at start
    const fw = await startLimited('128:256', [
      'global: { log-level: info }',
      'admin: { listen: 127.0.0.1:0 }',
      'services:',
      '  dns: { listen: 127.0.0.1:0, mode: udp, pool: udp }', // max-flows: the default, 65536
      '  tcp: { listen: 127.0.0.1:0, mode: tcp, pool: tcp }',
      '  web: { listen: 127.0.0.1:0, mode: http, pool: web }',
      'pools:',
      `  udp: { members: [ { address: 127.0.0.1:${udpMember.port} } ] }`,
      `  tcp: { members: [ { address: 127.0.0.1:${tcpMember.port} } ] }`,
      `  web: { members: [ { address: 127.0.0.1:${httpMember.port} } ] }`,
      '',
    ].join('\n'));
    const events = fw.events;

    // the soft limit was raised to the hard one (by Node as it started, or by furiwake), and the
    // budget clipped max-flows, saying so
    const budget = events.filter((e) => e.msg === 'file descriptor budget').at(-1)!;
    assert.equal(budget.limit, 256);
    const bound = Number(budget.flowsPerUdpService);
    assert.ok(bound > 0 && bound < 256, `flows per udp service: ${bound}`);
    assert.ok(events.some((e) => typeof e.msg === 'string' && e.msg.startsWith('service dns: max-flows 65536 is more than the file descriptor budget allows')));

    const dns = fw.port('dns');
    const served = async (): Promise<void> => {
      assert.equal(await greeting(fw.port('tcp')), 't');
      assert.equal((await get(fw.port('web'), '/')).status, 200);
      assert.equal((await get(fw.admin, '/api/v1/services')).status, 200);
    };
    // warm up, then take the baseline
    await burst(dns, BATCH);
    await served();
    const rssBefore = fw.rss();

    let peak = 0;
    for (let sent = BATCH; sent < FLOOD; sent += BATCH) {
      await burst(dns, BATCH);
      await served();
      peak = Math.max(peak, await fw.metric('furiwake_service_connections_active{service="dns"}'));
    }
    assert.ok(peak <= bound, `the flow table held ${peak} flows, bound ${bound}`);
    assert.ok(await fw.metric('furiwake_udp_flows_evicted_total') >= FLOOD - bound - BATCH);
    assert.equal(await fw.metric('furiwake_descriptors_exhausted_total'), 0);
    assert.equal(await fw.metric(`furiwake_member_connect_failures_total{pool="udp",member="127.0.0.1:${udpMember.port}"}`), 0);

    // a new client gets in: an old flood flow gives way
    const client = await udpClient();
    assert.equal((await client.ask(dns, 'hello')).text, 'u:hello');
    await client.close();
    await served();

    const rssAfter = fw.rss();
    // generous: a leak of a flow's worth per datagram would be far beyond it
    assert.ok(rssAfter - rssBefore < 40 * 1024, `RSS grew from ${rssBefore} kB to ${rssAfter} kB`);
    process.stdout.write(`# flood: ${FLOOD} source ports, flow bound ${bound}, peak ${peak}, RSS ${rssBefore} kB -> ${rssAfter} kB\n`);

    await fw.stop();
    await httpMember.close();
  });
});

/** Sets this process's soft descriptor limit (the hard one stays, so it can be raised back). */
function softLimit(soft: number, hard: number): void {
  const run = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${hard === Infinity ? 'unlimited' : hard}`]);
  assert.equal(run.status, 0, String(run.stderr));
}

describe('udp flows when descriptors run out', () => {
  it('drops a flow whose socket cannot be opened: no table slot, counted, not a member failure', async () => {
    const member = await startUdpServer('u');
    after(() => member.close());
    const app = await startApp(single('udp', pool('round-robin', [{ port: member.port }])));
    const vip = app.address('svc').port;
    const clients = await Promise.all(Array.from({ length: 40 }, async () => {
      const s = dgram.createSocket('udp4');
      s.on('error', () => {});
      s.bind(0, '127.0.0.1');
      await once(s, 'listening');
      return s;
    }));
    const saved = readFileLimit()!;
    // room for a few flow sockets only: the rest fail with EMFILE
    softLimit(readdirSync('/proc/self/fd').length + 5, saved.hard);
    try {
      await Promise.all(clients.map((s) => new Promise<void>((resolve) => s.send('x', vip, '127.0.0.1', () => resolve()))));
      const resources = app.runtime.resources;
      await until(() => resources.descriptorsExhausted + (app.listener('svc') as UdpListener).flows >= clients.length);
    } finally {
      // the clients' descriptors back first: prlimit needs a few to be started
      await Promise.all(clients.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      softLimit(saved.soft, saved.hard);
    }
    const listener = app.listener('svc') as UdpListener;
    assert.ok(app.runtime.resources.descriptorsExhausted > 0);
    assert.equal(listener.flows + app.runtime.resources.descriptorsExhausted, clients.length);
    assert.equal(app.runtime.connections.size, listener.flows);
    assert.equal(app.runtime.pools.get('p')!.members[0].failed, 0);
    assert.equal(app.runtime.pools.get('p')!.members[0].active, listener.flows);
  });
});
