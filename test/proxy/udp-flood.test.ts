// A udp flood from thousands of source ports against a furiwake whose descriptor limit is low
// (a child process under prlimit): the flow table stays at the bound the descriptor budget
// allows, a tcp service, an http service and the admin API on the same process keep answering,
// memory stays flat, and an old flood flow gives way to a new client.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { greeting, udpClient } from '../helpers/clients.ts';
import { startTcpServer, startUdpServer } from '../helpers/servers.ts';
import { startMember } from './http/helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/furiwake.js', import.meta.url));
/** source ports the flood comes from, a batch at a time */
const FLOOD = 3_000;
const BATCH = 100;

/** The resident memory of a process (kB), from /proc. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

/** A sample of the metrics text, by name and labels as written (`name{labels}`); 0 when absent. */
function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

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
    const dir = mkdtempSync(join(tmpdir(), 'furiwake-flood-'));
    const cfg = join(dir, 'flood.yaml');
    writeFileSync(cfg, [
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
    // a soft limit of 128 under a hard one of 256: start raises it to 256
    const child = spawn('prlimit', ['--nofile=128:256', process.execPath, BIN, 'start', '-c', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const events: Record<string, unknown>[] = [];
    let waiting: (() => void) | null = null;
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      partial += c;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l.startsWith('{')) events.push(JSON.parse(l) as Record<string, unknown>);
      waiting?.();
    });
    child.stderr.resume();
    const event = async (match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
      for (;;) {
        const found = events.find(match);
        if (found !== undefined) return found;
        if (child.exitCode !== null) throw new Error(`furiwake exited: ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => (waiting = resolve));
      }
    };
    await event((e) => e.msg === 'furiwake started');
    const pid = child.pid!;
    const port = (service: string): number => Number(events.find((e) => e.msg === 'service listening' && e.service === service)!.port);
    const admin = Number(events.find((e) => e.msg === 'admin listening')!.port);

    // the soft limit was raised to the hard one (by Node as it started, or by furiwake), and the
    // budget clipped max-flows, saying so
    const budget = events.filter((e) => e.msg === 'file descriptor budget').at(-1)!;
    assert.equal(budget.limit, 256);
    const bound = Number(budget.flowsPerUdpService);
    assert.ok(bound > 0 && bound < 256, `flows per udp service: ${bound}`);
    assert.ok(events.some((e) => typeof e.msg === 'string' && e.msg.startsWith('service dns: max-flows 65536 is more than the file descriptor budget allows')));

    const dns = port('dns');
    const served = async (): Promise<void> => {
      assert.equal(await greeting(port('tcp')), 't');
      assert.equal((await get(port('web'), '/')).status, 200);
      assert.equal((await get(admin, '/api/v1/services')).status, 200);
    };
    // warm up, then take the baseline
    await burst(dns, BATCH);
    await served();
    const rssBefore = rss(pid);

    let peak = 0;
    for (let sent = BATCH; sent < FLOOD; sent += BATCH) {
      await burst(dns, BATCH);
      await served();
      const text = (await get(admin, '/metrics')).body;
      peak = Math.max(peak, metric(text, 'furiwake_service_connections_active{service="dns"}'));
    }
    const text = (await get(admin, '/metrics')).body;
    assert.ok(peak <= bound, `the flow table held ${peak} flows, bound ${bound}`);
    assert.ok(metric(text, 'furiwake_udp_flows_evicted_total') >= FLOOD - bound - BATCH);
    assert.equal(metric(text, 'furiwake_descriptors_exhausted_total'), 0);
    assert.equal(metric(text, `furiwake_member_connect_failures_total{pool="udp",member="127.0.0.1:${udpMember.port}"}`), 0);

    // a new client gets in: an old flood flow gives way
    const client = await udpClient();
    assert.equal((await client.ask(dns, 'hello')).text, 'u:hello');
    await client.close();
    await served();

    const rssAfter = rss(pid);
    // generous: a leak of a flow's worth per datagram would be far beyond it
    assert.ok(rssAfter - rssBefore < 40 * 1024, `RSS grew from ${rssBefore} kB to ${rssAfter} kB`);
    process.stdout.write(`# flood: ${FLOOD} source ports, flow bound ${bound}, peak ${peak}, RSS ${rssBefore} kB -> ${rssAfter} kB\n`);

    child.kill('SIGTERM');
    await once(child, 'exit');
    await httpMember.close();
  });
});
