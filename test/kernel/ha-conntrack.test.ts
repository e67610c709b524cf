// Kernel connection sync between the two nodes of a pair: furiwake runs a nat service on each
// node, conntrackd (driven by ConntrackSync) copies the kernel's connections from the master to
// the backup, and a long download through the VIP goes on, complete and in order, after the VIPs
// move to the other node (and a udp flow keeps its member). The VIPs are moved by hand here, in
// the order that leaves no race: the new master commits what it was sent, then takes the
// addresses (keepalived takes them first and reports the role just after); the real VRRP
// failover through keepalived belongs to the HA supervisor's tests.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ConntrackSync } from '../../src/ha/conntrack-sync.ts';
import { syncedAddresses } from '../../src/ha/conntrackd-config.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { createPair, PAIR, type Pair } from './ha-net.ts';
import { ip } from './namespaces.ts';
import { until } from '../helpers/wait.ts';
import { Lines, startFuriwake, startServer, type Balancer } from './peers.ts';

const STREAM = fileURLToPath(new URL('./peers/slow-stream.ts', import.meta.url));
const CONFIG = `global: { log-level: debug, shutdown-grace: 1s }
services:
  www: { listen: ${PAIR.vip}:80, mode: nat, pool: web }
  dns: { listen: ${PAIR.vip}:53, mode: nat, protocol: udp, pool: dns }
pools:
  web:
    members:
${PAIR.servers.map((s) => `      - { address: ${s}:80 }`).join('\n')}
  dns:
    members:
${PAIR.servers.map((s) => `      - { address: ${s}:53 }`).join('\n')}
`;

type Event = { event: string; got?: number; inOrder?: boolean; sent?: number; server?: string; message?: string };

const events = (lines: Lines): Event[] => lines.json() as Event[];
const progressed = (lines: Lines, bytes: number): Promise<string> =>
  lines.wait((l) => l.startsWith('{') && ((JSON.parse(l) as Event).got ?? 0) >= bytes);

describe('kernel connection sync (conntrackd) between the nodes of a pair', () => {
  let pair: Pair;
  const syncs: ConntrackSync[] = [];
  const balancers: Balancer[] = [];
  const logs: string[] = [];
  const stateDirs: string[] = [];

  before(async () => {
    pair = await createPair(2, 2);
  });
  after(async () => {
    for (const sync of syncs) await sync.stop();
    for (const b of balancers) await b.stop();
    for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
    await pair?.close();
  });

  /** Node `i` takes the VIP in front and the servers' gateway behind (or gives them up). */
  async function hold(node: number, holding: boolean): Promise<void> {
    for (const [address, dev] of [[PAIR.vip, 'eth0'], [PAIR.gateway, 'eth1']] as const) {
      await ip(['-n', pair.nodes[node], 'addr', holding ? 'add' : 'del', `${address}/${PAIR.prefixLength}`, 'dev', dev]);
    }
    // what keepalived's gratuitous ARP does: the neighbours learn the new holder's MAC
    if (holding) for (const ns of [pair.client, ...pair.servers]) await pair.run(ns, 'ip', ['neigh', 'flush', 'all']);
  }

  test('a long download through a nat service goes on, complete and in order, after the VIPs move; a udp flow keeps its member', async () => {
    const logger = createLogger('debug', new Writable({ write(chunk: Buffer, _e, done) { logs.push(chunk.toString()); done(); } }));
    const servers = pair.servers.map((ns, i) => new Lines(pair.spawn(ns, process.execPath, [STREAM, 'server', `s${i + 1}`, '80'])));
    await Promise.all(servers.map((s) => s.wait((l) => l.includes('"ready"'))));
    for (let i = 0; i < pair.servers.length; i++) await startServer(pair, i, 53);
    await hold(0, true);
    for (const node of pair.nodes) {
      const fw = await startFuriwake(pair, CONFIG, node);
      balancers.push(fw);
      await fw.event('kernel: ruleset applied');
    }

    const addresses = syncedAddresses(parseConfig(CONFIG, 'furiwake.yaml'));
    for (let i = 0; i < 2; i++) {
      // a dir that does not exist yet: start() makes it
      const stateDir = join(await mkdtemp(join(tmpdir(), 'furiwake-ct-')), 'node');
      stateDirs.push(dirname(stateDir));
      const sync = new ConntrackSync({
        ha: { interface: 'eth0', peers: [PAIR.front[1 - i]], sync: null, vips: [PAIR.vip, PAIR.gateway], conntrackSync: { port: 3780 } },
        addresses, logger, stateDir, netns: pair.nodes[i],
      });
      syncs.push(sync);
      assert.equal(await sync.start(), true, logs.join(''));
      assert.equal(sync.status().running, true);
    }
    await syncs[0].roleChanged('master');
    await syncs[1].roleChanged('backup');

    // udp flows, one socket each, until one reaches s2: a new flow on node 2 would go to s1 first
    // (its round-robin starts there), so the flow keeping s2 after the failover is its entry's doing
    let found: { lines: Lines; port: number } | null = null;
    for (let tries = 0; tries < 4 && found === null; tries++) {
      const lines = new Lines(pair.spawn(pair.client, process.execPath, [STREAM, 'udp', PAIR.vip, '53']));
      const { local } = JSON.parse(await lines.wait((l) => l.includes('"ready"'))) as { local: number };
      lines.child.stdin!.write('before\n');
      const reply = JSON.parse(await lines.wait((l) => l.includes('"reply"'))) as { text: string };
      if (reply.text === 's2:before') found = { lines, port: local };
    }
    assert.ok(found !== null, 'no udp flow reached s2');
    const udp = found;

    const client = new Lines(pair.spawn(pair.client, process.execPath, [STREAM, 'client', PAIR.vip, '80']));
    const connected = JSON.parse(await client.wait((l) => l.includes('"connected"'))) as { local: string };
    await progressed(client, 64 * 1024);

    // the backup was told of the connection: it is in its conntrackd's external cache
    const [clientIp, clientPort] = [connected.local.slice(0, connected.local.lastIndexOf(':')), connected.local.slice(connected.local.lastIndexOf(':') + 1)];
    const config = join(stateDirs[1], 'node', 'conntrackd.conf');
    const flow = `src=${clientIp} dst=${PAIR.vip} sport=${clientPort} dport=80`;
    let external = '';
    for (let tries = 0; tries < 200 && !external.includes(flow); tries++) {
      external = (await pair.run(pair.nodes[1], 'conntrackd', ['-C', config, '-e'])).stdout;
    }
    assert.ok(external.includes(flow), `not in the backup's external cache:\n${external}\n${logs.join('')}`);
    const udpFlow = `src=${PAIR.client} dst=${PAIR.vip} sport=${udp.port} dport=53`;
    for (let tries = 0; tries < 200 && !external.includes(udpFlow); tries++) {
      external = (await pair.run(pair.nodes[1], 'conntrackd', ['-C', config, '-e'])).stdout;
    }
    assert.ok(external.includes(udpFlow), `the udp flow is not in the backup's external cache:\n${external}`);

    // failover: the new master commits the connections into its kernel, then takes the addresses
    await syncs[1].roleChanged('master');
    const kernel = (await pair.run(pair.nodes[1], 'conntrack', ['-L', '-p', 'tcp', '--orig-dst', PAIR.vip])).stdout;
    assert.ok(kernel.includes(flow), `not committed into the new master's kernel table:\n${kernel}`);
    await hold(0, false);
    const before = (events(client).at(-1)?.got ?? 0);
    await hold(1, true);
    await syncs[0].roleChanged('backup');

    // the download goes on through node 2: 64 KiB more, then the server finishes it
    await progressed(client, before + 64 * 1024);
    const serving = servers.find((s) => events(s).some((e) => e.event === 'connection'))!;
    assert.equal(servers.filter((s) => events(s).some((e) => e.event === 'connection')).length, 1, 'one connection, one server');
    serving.child.stdin!.write('finish\n');
    const finished = JSON.parse(await serving.wait((l) => l.includes('"finished"'))) as Event;
    const end = JSON.parse(await client.wait((l) => l.includes('"end"') || l.includes('"error"'))) as Event;
    assert.deepEqual(end, { event: 'end', got: finished.sent, inOrder: true });
    // the udp flow too goes on to its member
    udp.lines.child.stdin!.write('after\n');
    const after = JSON.parse(await udp.lines.wait((l) => l.includes('"reply"') && l.includes('after'))) as { text: string; from: string };
    assert.deepEqual(after, { event: 'reply', text: 's2:after', from: `${PAIR.vip}:53` });
    if (client.child.exitCode === null) await once(client.child, 'exit');

    // conntrackd's commands all worked, on both nodes
    for (const sync of syncs) {
      for (const [command, count] of Object.entries(sync.counters().commands)) assert.equal(count.failed, 0, `${command} failed:\n${logs.join('')}`);
    }
    assert.equal(syncs[1].counters().commands.commit.ok, 1);
  });

  /** A supervisor on node 1 with a quick backoff, logging into `logs`. */
  function supervisor(ha: Partial<ConstructorParameters<typeof ConntrackSync>[0]['ha']> = {}, more: Partial<ConstructorParameters<typeof ConntrackSync>[0]> = {}): ConntrackSync {
    const logger = createLogger('debug', new Writable({ write(chunk: Buffer, _e, done) { logs.push(chunk.toString()); done(); } }));
    const sync = new ConntrackSync({
      ha: { interface: 'eth0', peers: [PAIR.front[1]], sync: null, vips: [PAIR.vip], conntrackSync: { port: 3781 }, ...ha },
      addresses: [PAIR.vip, ...PAIR.servers], logger, netns: pair.nodes[0], backoff: 20, maxBackoff: 200, ...more,
    });
    syncs.push(sync);
    return sync;
  }

  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  test('conntrackd that dies is started again, and the role it had is applied again; stop() ends it and removes its dir', async () => {
    const sync = supervisor();
    assert.equal(await sync.start(), true, logs.join(''));
    await sync.roleChanged('backup');
    assert.deepEqual([sync.counters().commands.purge.ok, sync.counters().commands['request-resync'].ok], [1, 1]);
    const first = sync.status().pid!;
    process.kill(first, 'SIGKILL');
    await until(() => sync.status().running && sync.status().pid !== first, sync.events, 'status');
    assert.equal(sync.status().restarts, 1);
    // the replayed role's commands are queued before this call's
    await sync.roleChanged('backup');
    assert.deepEqual([sync.counters().commands.purge.ok, sync.counters().commands['request-resync'].ok], [3, 3]);
    assert.ok(logs.some((l) => l.includes('conntrackd stopped; starting it again')));
    const second = sync.status().pid!;
    // its config is in a dir of its own (no stateDir given): the argument after -C
    const argv = (await readFile(`/proc/${second}/cmdline`, 'utf8')).split('\0');
    const config = argv[argv.indexOf('-C') + 1];
    assert.match(config, /furiwake-conntrackd-[^/]+\/conntrackd\.conf$/);
    await sync.stop();
    assert.equal(alive(second), false);
    await assert.rejects(stat(dirname(config)), { code: 'ENOENT' });
    assert.deepEqual(sync.status(), { running: false, pid: null, restarts: 1 });
    await sync.stop();
  });

  test('conntrackd that cannot start (no address to send from): start() says so, and it is tried again with backoff', async () => {
    const sync = supervisor({ interface: 'lo' });
    assert.equal(await sync.start(), false);
    await until(() => sync.status().restarts >= 5, sync.events, 'status');
    assert.ok(logs.some((l) => l.includes('lo has no IPv4 address of its own')), logs.join(''));
    // each failure in a row doubles the delay, up to maxBackoff
    const delays = logs.map((l) => JSON.parse(l) as { msg: string; delay?: number })
      .filter((e) => e.msg === 'conntrack sync: conntrackd starts again after a delay (ms)').map((e) => e.delay);
    assert.deepEqual(delays.slice(-5), [20, 40, 80, 160, 200]);
    // a role that comes meanwhile waits for conntrackd
    await sync.roleChanged('master');
    assert.equal(sync.counters().commands.commit.ok + sync.counters().commands.commit.failed, 0);
    await sync.stop();
    assert.equal(sync.status().running, false);
  });

  test('new synced addresses (a reload): conntrackd starts again on them at once, not counted as a restart', async () => {
    const sync = supervisor({ conntrackSync: { port: 3782 } });
    assert.equal(await sync.start(), true, logs.join(''));
    await sync.roleChanged('master');
    const first = sync.status().pid!;
    const argv = (await readFile(`/proc/${first}/cmdline`, 'utf8')).split('\0');
    const config = argv[argv.indexOf('-C') + 1];
    assert.doesNotMatch(await readFile(config, 'utf8'), /10\.88\.2\.99/);
    sync.reconfigure([PAIR.vip, ...PAIR.servers, '10.88.2.99']);
    await until(() => sync.status().running && sync.status().pid !== first, sync.events, 'status');
    assert.match(await readFile(config, 'utf8'), /\t\t\tIPv4_address 10\.88\.2\.99\n/);
    assert.equal(sync.status().restarts, 0);
    // the role is applied again on the new conntrackd (queued before this call's)
    await sync.roleChanged('master');
    assert.equal(sync.counters().commands.commit.ok, 3);
    // the same addresses again: nothing happens
    const second = sync.status().pid;
    sync.reconfigure([PAIR.vip, ...PAIR.servers, '10.88.2.99']);
    assert.equal(sync.status().pid, second);
    await sync.stop();
  });

  test('a conntrackd that is missing, or never gets ready, is reported and tried again; nothing throws', async () => {
    const missing = supervisor({ conntrackSync: { port: 3783 } }, { conntrackd: '/nonexistent/conntrackd' });
    assert.equal(await missing.start(), false);
    await until(() => missing.status().restarts >= 1, missing.events, 'status');
    await missing.stop();

    const dir = await mkdtemp(join(tmpdir(), 'furiwake-ct-stuck-'));
    stateDirs.push(dir);
    const stuck = join(dir, 'conntrackd');
    await writeFile(stuck, '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
    const sync = supervisor({ conntrackSync: { port: 3784 } }, { conntrackd: stuck, readyTimeout: 100 });
    assert.equal(await sync.start(), false);
    assert.ok(logs.some((l) => l.includes('conntrackd did not get ready in time')), logs.join(''));
    await until(() => sync.status().restarts >= 1, sync.events, 'status');
    await sync.stop();
    assert.equal(sync.status().pid, null);
  });

  test('conntrackd takes the other channels furiwake writes: an IPv6 peer, and multicast without a peer', async () => {
    const channels: [{ peers: string[] }, number][] = [[{ peers: [PAIR.front6[1]] }, 3785], [{ peers: [] }, 3786]];
    for (const [ha, port] of channels) {
      const sync = supervisor({ ...ha, conntrackSync: { port } });
      assert.equal(await sync.start(), true, logs.join(''));
      const argv = (await readFile(`/proc/${sync.status().pid}/cmdline`, 'utf8')).split('\0');
      const text = await readFile(argv[argv.indexOf('-C') + 1], 'utf8');
      if (ha.peers.length > 0) assert.match(text, new RegExp(`IPv6_address ${PAIR.front6[0]}\n\t\tIPv6_Destination_Address ${PAIR.front6[1]}\n`));
      else assert.match(text, new RegExp(`Multicast \\{\n\t\tIPv4_address 225\\.0\\.0\\.50\n\t\tGroup ${port}\n\t\tIPv4_interface ${PAIR.front[0].replaceAll('.', '\\.')}\n`));
      await sync.roleChanged('backup');
      assert.equal(sync.counters().commands['request-resync'].failed, 0);
      await sync.stop();
    }
  });
});
