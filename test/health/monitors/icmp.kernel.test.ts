// icmp monitor: real echo requests over the shared raw socket — to loopback (IPv4 and IPv6),
// many at once, and from inside a network namespace the test creates, to addresses with no
// host (nothing leaves the machine: the namespace has no link outside).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IcmpMonitor } from '../../../src/config/health-types.ts';
import { createIcmpMonitor, openIcmpSockets, RAW_SOCKET_DENIED } from '../../../src/health/monitors/icmp.ts';
import { COMMON, loopback, netns } from '../helpers-proto.ts';
import { atEnd } from '../../helpers/cleanup.ts';
import { tempDir } from '../../helpers/files.ts';

const CONFIG: IcmpMonitor = { type: 'icmp', ...COMMON };
const MONITOR_MODULE = new URL('../../../src/health/monitors/icmp.ts', import.meta.url).href;

interface ProbeOutput {
  created: boolean;
  error?: string;
  results?: { ip: string; up: boolean; reason: string }[];
  openAfterClose?: number;
}

// A child process that creates one icmp monitor, runs checks in parallel (each optionally aborted
// after `abortAfter` ms, as the scheduler's timeout would), closes the monitor and prints JSON.
// It must then exit by itself: a socket left open would keep it alive.
const PROBE = `
import { createIcmpMonitor, openIcmpSockets } from ${JSON.stringify(MONITOR_MODULE)};
const checks = JSON.parse(process.argv[2]);
let monitor;
try {
  monitor = createIcmpMonitor(${JSON.stringify(CONFIG)});
} catch (err) {
  console.log(JSON.stringify({ created: false, error: err.message }));
  process.exit(0);
}
const results = await Promise.all(checks.map(async ({ ip, abortAfter }) => {
  const controller = new AbortController();
  const timer = abortAfter === undefined ? undefined : setTimeout(() => controller.abort(), abortAfter);
  const result = await monitor.run({ host: ip, ip, port: 0 }, controller.signal);
  clearTimeout(timer);
  return { ip, ...result };
}));
monitor.close();
console.log(JSON.stringify({ created: true, results, openAfterClose: openIcmpSockets() }));
`;

async function writeProbe(): Promise<string> {
  const file = path.join(await tempDir('icmp'), 'probe.mjs');
  await writeFile(file, PROBE);
  return file;
}

/** Runs the probe (`prefix` wraps node: ip netns exec, setpriv) and waits for it to exit on its own. */
async function probe(prefix: string[], file: string, checks: { ip: string; abortAfter?: number }[]): Promise<ProbeOutput> {
  const argv = [...prefix, process.execPath, file, JSON.stringify(checks)];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  const kill = atEnd(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const [code] = await exited;
  await kill();
  assert.equal(code, 0, `probe failed: ${stderr}`);
  return JSON.parse(stdout) as ProbeOutput;
}

describe('icmp monitor on loopback', () => {
  it('is up on an echo reply from 127.0.0.1', async () => {
    const monitor = createIcmpMonitor(CONFIG);
    try {
      assert.deepEqual(await monitor.run(loopback(0), new AbortController().signal), { up: true, reason: 'echo reply' });
    } finally {
      monitor.close();
    }
    assert.equal(openIcmpSockets(), 0);
  });

  it('is up on an ICMPv6 echo reply from ::1', async () => {
    const monitor = createIcmpMonitor(CONFIG);
    try {
      assert.deepEqual(await monitor.run(loopback(0, '::1'), new AbortController().signal), { up: true, reason: 'echo reply' });
      assert.equal(openIcmpSockets(), 2, 'one IPv4 and one ICMPv6 raw socket');
    } finally {
      monitor.close();
    }
    assert.equal(openIcmpSockets(), 0);
  });

  it('runs 50 concurrent checks from 5 monitors on one socket, each with its own identifier/sequence', async () => {
    // watch the wire: our own raw socket sees every echo request crossing loopback
    const raw = createRequire(import.meta.url)('raw-socket') as {
      createSocket(o: { protocol: number }): {
        on(e: 'message', l: (b: Buffer, source: string) => void): void;
        close(): void;
      };
    };
    const watcher = raw.createSocket({ protocol: 1 });
    after(() => watcher.close());
    const block = `127.77.${1 + Math.floor(Math.random() * 254)}`;
    const targets = Array.from({ length: 50 }, (_, i) => `${block}.${i + 1}`);
    const seen: { dst: string; id: number; seq: number }[] = [];
    const all50 = new Promise<void>((resolve) => {
      watcher.on('message', (packet) => {
        const icmp = packet.subarray((packet[0] & 0x0f) * 4);
        const dst = Array.from(packet.subarray(16, 20)).join('.');
        if (icmp[0] !== 8 || !targets.includes(dst)) return;
        seen.push({ dst, id: icmp.readUInt16BE(4), seq: icmp.readUInt16BE(6) });
        if (seen.length === targets.length) resolve();
      });
    });

    const monitors = Array.from({ length: 5 }, () => createIcmpMonitor(CONFIG));
    try {
      assert.equal(openIcmpSockets(), 1, 'the monitors share one raw socket');
      const results = await Promise.all(
        targets.map((ip, i) => monitors[i % monitors.length].run(loopback(0, ip), new AbortController().signal)),
      );
      assert.deepEqual(results, targets.map(() => ({ up: true, reason: 'echo reply' })));
      await all50;
      assert.deepEqual(seen.map((s) => s.dst).sort(), [...targets].sort());
      assert.equal(new Set(seen.map((s) => `${s.id}/${s.seq}`)).size, targets.length, 'distinct identifier/sequence pairs');
      // the socket stays open while one monitor still uses it
      for (const m of monitors.slice(0, 4)) m.close();
      assert.equal(openIcmpSockets(), 1);
      assert.deepEqual(await monitors[4].run(loopback(0), new AbortController().signal), { up: true, reason: 'echo reply' });
    } finally {
      for (const m of monitors) m.close();
    }
    assert.equal(openIcmpSockets(), 0, 'closed with the last monitor');
  });

  it('settles at once with "aborted" when the signal has already aborted', async () => {
    const monitor = createIcmpMonitor(CONFIG);
    try {
      const controller = new AbortController();
      controller.abort();
      assert.deepEqual(await monitor.run(loopback(0), controller.signal), { up: false, reason: 'aborted' });
    } finally {
      monitor.close();
    }
  });

  it('says what is missing when the process may not open a raw socket (no CAP_NET_RAW)', async () => {
    const file = await writeProbe();
    const out = await probe(['setpriv', '--bounding-set', '-net_raw', '--inh-caps', '-net_raw'], file, []);
    assert.deepEqual(out, { created: false, error: RAW_SOCKET_DENIED });
    assert.match(RAW_SOCKET_DENIED, /run as root or grant CAP_NET_RAW/);
    assert.match(RAW_SOCKET_DENIED, /AmbientCapabilities=CAP_NET_RAW/);
    assert.match(RAW_SOCKET_DENIED, /setcap cap_net_raw\+ep/);
  });
});

describe('icmp monitor inside a network namespace', { timeout: 30_000 }, () => {
  const ns = `fw-icmp-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const x = Math.floor(Math.random() * 256);
  const net = `10.200.${x}`;
  const net6 = `fd00:200:${x.toString(16)}`;
  let out: ProbeOutput;

  let space: Awaited<ReturnType<typeof netns>> | undefined;
  after(() => space?.remove());

  before(async () => {
    space = await netns(ns);
    const ip = space.ip;
    await ip('link', 'set', 'lo', 'up');
    // both ends of the veth pair stay in the namespace: frames go nowhere else
    await ip('link', 'add', 'fw0', 'type', 'veth', 'peer', 'name', 'fw1');
    await ip('addr', 'add', `${net}.1/24`, 'dev', 'fw0');
    await ip('addr', 'add', `${net6}::1/64`, 'dev', 'fw0', 'nodad');
    await ip('link', 'set', 'fw0', 'up');
    await ip('link', 'set', 'fw1', 'up');
    // .78 "has" a MAC that no interface owns: the echo goes out and nothing ever answers
    await ip('neigh', 'add', `${net}.78`, 'lladdr', '02:00:00:00:00:01', 'dev', 'fw0', 'nud', 'permanent');
    // one ARP probe, 100 ms: the kernel gives up on .77 quickly and answers host unreachable
    await space.exec(
      'sysctl', '-q', '-w',
      'net.ipv4.neigh.fw0.mcast_solicit=1', 'net.ipv4.neigh.fw0.retrans_time_ms=100',
      'net.ipv6.neigh.fw0.mcast_solicit=1', 'net.ipv6.neigh.fw0.retrans_time_ms=100',
    );
    const links = JSON.parse(await ip('-j', 'link', 'show')) as { ifname: string }[];
    assert.deepEqual(links.map((l) => l.ifname).sort(), ['fw0', 'fw1', 'lo'], 'no link leads out of the namespace');

    const file = await writeProbe();
    out = await probe(['ip', 'netns', 'exec', ns], file, [
      { ip: `${net}.77` },
      { ip: `${net}.78`, abortAfter: 300 },
      { ip: '10.201.0.77' },
      { ip: `${net}.1` },
      { ip: `${net6}::77` },
      { ip: `${net6}::1` },
    ]);
    assert.equal(out.created, true, out.error);
  });

  it('is down with "ICMP host unreachable" when ARP for the address fails', () => {
    assert.deepEqual(out.results![0], { ip: `${net}.77`, up: false, reason: 'ICMP host unreachable' });
  });

  it('settles when aborted while no reply comes (the scheduler records the timeout)', () => {
    assert.deepEqual(out.results![1], { ip: `${net}.78`, up: false, reason: 'aborted' });
  });

  it('is down with the send error when there is no route', () => {
    assert.deepEqual(out.results![2], { ip: '10.201.0.77', up: false, reason: 'send failed: Network is unreachable' });
  });

  it('is up for the namespace\'s own address, in the same batch', () => {
    assert.deepEqual(out.results![3], { ip: `${net}.1`, up: true, reason: 'echo reply' });
  });

  it('is down with "ICMPv6 address unreachable" when neighbour discovery fails', () => {
    assert.deepEqual(out.results![4], { ip: `${net6}::77`, up: false, reason: 'ICMPv6 address unreachable' });
  });

  it('is up on an ICMPv6 echo reply from the namespace\'s own IPv6 address', () => {
    assert.deepEqual(out.results![5], { ip: `${net6}::1`, up: true, reason: 'echo reply' });
  });

  it('closed the raw socket with the monitor (and the process exited by itself)', () => {
    assert.equal(out.openAfterClose, 0);
  });
});
