// VIP ownership of an active/standby pair: two furiwake nodes (each with its keepalived) on one
// front segment, a client beside them and servers behind. The master holds the VIP, a dead master
// loses it to the backup, preempt decides who holds it when the old master comes back, a node
// whose pools have no usable member and a node handed over by an operator give it away, and a
// furiwake node elects with a plain keepalived by priority.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createPair, PAIR, type Pair } from './ha-net.ts';
import { killNode, prober, reviveNode } from './ha-node.ts';
import { capture, Lines, startClient, startFuriwake, startServer, type Balancer, type Client, type PeerServer } from './peers.ts';

const BIN = fileURLToPath(new URL('../../bin/furiwake.js', import.meta.url));
const ROUTER = 51;

interface NodeSpec {
  priority: number;
  preempt?: boolean;
  advert?: string;
  /** indexes of the servers in the pool; default both */
  members?: number[];
  /** a tcp monitor on the members, so a stopped server goes down */
  monitor?: boolean;
}

function nodeConfig(spec: NodeSpec): string {
  const members = (spec.members ?? [0, 1]).map((i) => `{ address: "${PAIR.servers[i]}:80", id: s${i + 1} }`).join(', ');
  const health = spec.monitor === true ? '\n    health: { monitors: [ { type: tcp, interval: 200ms, timeout: 200ms, rise: 1, fall: 1 } ] }' : '';
  return `admin: { listen: "127.0.0.1:9090" }
ha:
  interface: eth0
  router-id: ${ROUTER}
  priority: ${spec.priority}
  advert: ${spec.advert ?? '100ms'}
  preempt: ${spec.preempt ?? true}
services:
  www: { listen: "${PAIR.vip}:80", mode: tcp, pool: web }
pools:
  web:
    members: [ ${members} ]${health}
`;
}

/** The first log line from `from` on that says the node went into `role`. */
function role(node: Balancer, to: string, from = 0): Promise<string> {
  return node.out.wait((l) => l.startsWith('{') && (JSON.parse(l) as { msg?: string }).msg === `ha: this node is now ${to}`, from);
}

async function holds(pair: Pair, node: number): Promise<boolean> {
  return (await pair.addresses(pair.nodes[node], 'eth0')).includes(PAIR.vip);
}

/** `furiwake ctl ha` in a node's namespace, as JSON. */
async function ctlHa(pair: Pair, node: number, ...flags: string[]): Promise<{ vrrp: { role: string; handedOver: boolean; unfit: string | null; keepalived: { pid: number | null; restarts: number } } }> {
  const { stdout } = await pair.run(pair.nodes[node], process.execPath, [BIN, 'ctl', 'ha', '--json', ...flags]);
  return JSON.parse(stdout);
}

/** Connects until one succeeds (each attempt waits out TCP's own retries); the greeting. */
async function firstSuccess(client: Client, vip: string = PAIR.vip): Promise<string> {
  for (;;) {
    const c = await client.connect(80, undefined, vip);
    if (c.ok) {
      await client.end(c.conn);
      return c.line!;
    }
  }
}

describe('VRRP through keepalived', () => {
  let pair: Pair;
  let servers: PeerServer[];
  let client: Client;
  before(async () => {
    pair = await createPair();
    servers = [await startServer(pair, 0), await startServer(pair, 1)];
    client = await startClient(pair);
  });
  after(() => pair?.close());

  it('the master holds the VIP and serves; the backup does not hold it; a killed master loses it and the next connection succeeds', async () => {
    const a = await startFuriwake(pair, nodeConfig({ priority: 150 }), pair.nodes[0]);
    await role(a, 'master');
    const b = await startFuriwake(pair, nodeConfig({ priority: 100 }), pair.nodes[1]);
    await role(b, 'backup');
    assert.equal(await holds(pair, 0), true);
    assert.equal(await holds(pair, 1), false);
    assert.equal((await ctlHa(pair, 0)).vrrp.role, 'master');
    assert.equal((await ctlHa(pair, 1)).vrrp.role, 'backup');
    assert.match(await firstSuccess(client), /^s[12]$/);

    // a client that gives up a connect after 50 ms and tries again, started on 'go' (sent at the kill)
    const probe = await prober(pair);
    const from = b.out.all.length;
    const killedAt = performance.now();
    const killedAtWall = Date.now();
    await killNode(pair, 0);
    // only now: an attempt made before the cables were pulled would reach the old master
    const probing = probe.go();
    let elected = 0;
    const master = role(b, 'master', from).then(() => (elected = performance.now() - killedAt));
    const greeting = await firstSuccess(client);
    const took = performance.now() - killedAt;
    await master;
    const probed = await probing.result;
    const quick = { ...probed, ms: probed.at - killedAtWall };
    // the agent's first attempt goes to the dead node's MAC and TCP sends its SYN again after 1 s
    console.log(`failover with 100ms adverts, after the master was killed: the backup reported master at ${elected.toFixed(0)} ms; ` +
      `a client retrying every 50 ms connected at ${quick.ms} ms (attempt ${quick.attempts}); one that waits out TCP's own retry at ${took.toFixed(0)} ms`);
    assert.match(quick.greeting, /^s[12]$/);
    assert.match(greeting, /^s[12]$/);
    assert.equal(await holds(pair, 1), true);
    await b.stop();
    await a.stop();
    await reviveNode(pair, 0);
  });

  it('IPv4 and IPv6 VIPs move together', async () => {
    const config = (priority: number): string => nodeConfig({ priority }).replace('pools:', `  www6: { listen: "[${PAIR.vip6}]:80", mode: tcp, pool: web }\npools:`);
    const a = await startFuriwake(pair, config(150), pair.nodes[0]);
    await role(a, 'master');
    const b = await startFuriwake(pair, config(100), pair.nodes[1]);
    await role(b, 'backup');
    const both = async (node: number): Promise<boolean[]> => {
      const held = await pair.addresses(pair.nodes[node], 'eth0');
      return [held.includes(PAIR.vip), held.includes(PAIR.vip6)];
    };
    assert.deepEqual(await both(0), [true, true]);
    assert.deepEqual(await both(1), [false, false]);
    assert.match(await firstSuccess(client, PAIR.vip6), /^s[12]$/);

    const from = b.out.all.length;
    await killNode(pair, 0);
    await role(b, 'master', from);
    assert.match(await firstSuccess(client, PAIR.vip6), /^s[12]$/);
    assert.match(await firstSuccess(client), /^s[12]$/);
    assert.deepEqual(await both(1), [true, true]);
    await b.stop();
    await a.stop();
    await reviveNode(pair, 0);
  });

  for (const preempt of [true, false]) {
    it(`preempt ${preempt ? 'on: the old master takes the VIP back' : 'off: the new master keeps the VIP'} when it returns`, async () => {
      const a = await startFuriwake(pair, nodeConfig({ priority: 150, preempt }), pair.nodes[0]);
      await role(a, 'master');
      const b = await startFuriwake(pair, nodeConfig({ priority: 100, preempt }), pair.nodes[1]);
      await role(b, 'backup');
      let from = b.out.all.length;
      await killNode(pair, 0);
      await a.stop();
      await role(b, 'master', from);
      await reviveNode(pair, 0);

      from = b.out.all.length;
      const again = await startFuriwake(pair, nodeConfig({ priority: 150, preempt }), pair.nodes[0]);
      if (preempt) {
        await role(again, 'master');
        await role(b, 'backup', from);
        assert.equal(await holds(pair, 0), true);
        assert.equal(await holds(pair, 1), false);
      } else {
        await role(again, 'backup');
        // it stays a backup while the master goes on advertising: ten adverts (a second) later
        const adverts = await capture(pair, pair.nodes[0], 'eth0', 'vrrp');
        await adverts.printed(10, (l) => l.includes(`${PAIR.front[1]} > `));
        const seen = await adverts.stop();
        assert.ok(!seen.some((l) => l.includes(`${PAIR.front[0]} > `)), 'the returning node never advertised');
        assert.equal((await ctlHa(pair, 1)).vrrp.role, 'master');
        assert.equal((await ctlHa(pair, 0)).vrrp.role, 'backup');
        assert.equal(await holds(pair, 1), true);
        assert.equal(await holds(pair, 0), false);
      }
      assert.match(await firstSuccess(client), /^s[12]$/);
      await again.stop();
      await b.stop();
    });
  }

  it('a node whose pools have no usable member hands the VIP over, and is fit again when one comes back', async () => {
    // each node reaches one server only, so one node can go unfit while the other stays fit
    const a = await startFuriwake(pair, nodeConfig({ priority: 150, members: [0], monitor: true }), pair.nodes[0]);
    await role(a, 'master');
    const b = await startFuriwake(pair, nodeConfig({ priority: 100, members: [1], monitor: true }), pair.nodes[1]);
    await role(b, 'backup');
    assert.equal(await firstSuccess(client), 's1');

    let fromA = a.out.all.length;
    const fromB = b.out.all.length;
    await servers[0].stop();
    await role(a, 'fault', fromA);
    await role(b, 'master', fromB);
    assert.equal((await ctlHa(pair, 0)).vrrp.unfit, 'no usable member in pool web');
    assert.equal(await holds(pair, 0), false);
    assert.equal(await firstSuccess(client), 's2');

    fromA = a.out.all.length;
    servers[0] = await startServer(pair, 0);
    await a.out.wait((l) => l.includes('ha: this node is fit to hold the VIPs again'), fromA);
    await role(a, 'master', fromA);
    assert.equal(await firstSuccess(client), 's1');
    await a.stop();
    await b.stop();
  });

  it('an operator hands the VIP to the peer (ctl ha --handover) and takes it back (--take-back)', async () => {
    const a = await startFuriwake(pair, nodeConfig({ priority: 150 }), pair.nodes[0]);
    await role(a, 'master');
    const b = await startFuriwake(pair, nodeConfig({ priority: 100 }), pair.nodes[1]);
    await role(b, 'backup');

    let fromA = a.out.all.length;
    let fromB = b.out.all.length;
    assert.equal((await ctlHa(pair, 0, '--handover')).vrrp.handedOver, true);
    await role(b, 'master', fromB);
    await role(a, 'fault', fromA);
    assert.equal(await holds(pair, 0), false);
    assert.equal(await holds(pair, 1), true);
    const shown = await ctlHa(pair, 0);
    assert.equal(shown.vrrp.handedOver, true);
    assert.equal(shown.vrrp.role, 'fault');

    fromA = a.out.all.length;
    fromB = b.out.all.length;
    assert.equal((await ctlHa(pair, 0, '--take-back')).vrrp.handedOver, false);
    await role(a, 'master', fromA);
    await role(b, 'backup', fromB);
    assert.equal(await holds(pair, 0), true);
    await a.stop();
    await b.stop();
  });

  for (const [furiwakePriority, keepalivedPriority] of [[150, 100], [100, 150]]) {
    it(`a furiwake node (priority ${furiwakePriority}) and a plain keepalived (priority ${keepalivedPriority}) elect by priority`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'furiwake-keepalived-'));
      pair.onClose(() => rm(dir, { recursive: true, force: true }));
      const conf = join(dir, 'keepalived.conf');
      await writeFile(conf, `global_defs {
  vrrp_version 3
}
vrrp_instance plain {
  state BACKUP
  interface eth0
  virtual_router_id ${ROUTER}
  priority ${keepalivedPriority}
  advert_int 0.1
  virtual_ipaddress {
    ${PAIR.vip}/32 dev eth0
  }
}
`);
      const plain = pair.spawn(pair.nodes[1], 'keepalived', ['--dont-fork', '--vrrp', '--log-console', '--no-syslog', `--use-file=${conf}`,
        `--pid=${join(dir, 'k.pid')}`, `--vrrp_pid=${join(dir, 'v.pid')}`]);
      // keepalived logs to stderr with --log-console
      const plainLog = new Lines(plain, 'stderr');
      const a = await startFuriwake(pair, nodeConfig({ priority: furiwakePriority }), pair.nodes[0]);
      const furiwakeWins = furiwakePriority > keepalivedPriority;
      await role(a, furiwakeWins ? 'master' : 'backup');
      await plainLog.wait((l) => l.includes(furiwakeWins ? 'Entering BACKUP STATE' : 'Entering MASTER STATE'));
      if (!furiwakeWins) {
        // furiwake stays a backup: it saw the keepalived's adverts of higher priority
        assert.equal((await ctlHa(pair, 0)).vrrp.role, 'backup');
      }
      assert.equal(await holds(pair, 0), furiwakeWins);
      assert.equal(await holds(pair, 1), !furiwakeWins);
      await a.stop();
      const exited = new Promise((resolve) => plain.once('exit', resolve));
      plain.kill('SIGTERM');
      await exited;
    });
  }
});

describe('the keepalived furiwake runs', () => {
  let pair: Pair;
  let client: Client;
  before(async () => {
    pair = await createPair();
    await startServer(pair, 0);
    await startServer(pair, 1);
    client = await startClient(pair);
  });
  after(() => pair?.close());

  it('a furiwake killed alone (its keepalived lives on) loses the VIP; the next furiwake there stops that keepalived', async () => {
    const a = await startFuriwake(pair, nodeConfig({ priority: 150 }), pair.nodes[0]);
    await role(a, 'master');
    const b = await startFuriwake(pair, nodeConfig({ priority: 100 }), pair.nodes[1]);
    await role(b, 'backup');
    const orphan = (await ctlHa(pair, 0)).vrrp.keepalived.pid!;
    // the metrics say the same as the status
    const { stdout: metrics } = await pair.run(pair.nodes[0], 'curl', ['-s', 'http://127.0.0.1:9090/metrics']);
    assert.match(metrics, /^furiwake_ha_role\{role="master"\} 1$/m);
    assert.match(metrics, /^furiwake_ha_role\{role="backup"\} 0$/m);
    assert.match(metrics, /^furiwake_ha_transitions_total\{to="master"\} 1$/m);

    let from = b.out.all.length;
    const exited = new Promise((resolve) => a.out.child.once('exit', resolve));
    a.out.child.kill('SIGKILL');
    await exited;
    await role(b, 'master', from);
    assert.doesNotThrow(() => process.kill(orphan, 0), 'its keepalived still runs');
    assert.equal(await holds(pair, 0), false);
    assert.equal(await holds(pair, 1), true);
    assert.match(await firstSuccess(client), /^s[12]$/);

    from = b.out.all.length;
    const again = await startFuriwake(pair, nodeConfig({ priority: 150 }), pair.nodes[0]);
    await again.event('ha: stopping a keepalived left running by an earlier furiwake');
    await role(again, 'master');
    await role(b, 'backup', from);
    assert.throws(() => process.kill(orphan, 0), 'the keepalived left behind is gone');
    await again.stop();
    await b.stop();
    await a.stop();
  });

  it('a furiwake whose event loop stalls (SIGSTOP) loses the VIP; running again, it takes it back', async () => {
    const a = await startFuriwake(pair, nodeConfig({ priority: 150 }), pair.nodes[0]);
    await role(a, 'master');
    const b = await startFuriwake(pair, nodeConfig({ priority: 100 }), pair.nodes[1]);
    await role(b, 'backup');
    let from = b.out.all.length;
    a.out.child.kill('SIGSTOP');
    await role(b, 'master', from);
    assert.equal(await holds(pair, 0), false, 'its keepalived released the VIP');
    assert.match(await firstSuccess(client), /^s[12]$/);
    from = b.out.all.length;
    const fromA = a.out.all.length;
    a.out.child.kill('SIGCONT');
    await role(a, 'master', fromA);
    await role(b, 'backup', from);
    assert.equal(await holds(pair, 0), true);
    await a.stop();
    await b.stop();
  });

  it('a keepalived that dies is started again, and the node takes the VIP again', async () => {
    const a = await startFuriwake(pair, nodeConfig({ priority: 150 }), pair.nodes[0]);
    await role(a, 'master');
    const pid = (await ctlHa(pair, 0)).vrrp.keepalived.pid!;
    const from = a.out.all.length;
    process.kill(pid, 'SIGKILL');
    await role(a, 'stopped', from);
    await a.out.wait((l) => l.includes('ha: keepalived was ended by SIGKILL; it starts again'), from);
    await role(a, 'master', from);
    const status = await ctlHa(pair, 0);
    assert.equal(status.vrrp.keepalived.restarts, 1);
    assert.notEqual(status.vrrp.keepalived.pid, pid);
    assert.equal(await holds(pair, 0), true);
    await a.stop();
    assert.equal(await holds(pair, 0), false, 'a furiwake that stops releases the VIP');
  });

  it('a reload that changes the VIPs makes keepalived move the new set', async () => {
    const second = '10.88.1.101';
    const config = (vips: string): string => nodeConfig({ priority: 150 }).replace('  preempt: true\n', `  preempt: true\n  vips: [ ${vips} ]\n`);
    const a = await startFuriwake(pair, config(PAIR.vip), pair.nodes[0]);
    await role(a, 'master');
    const from = a.out.all.length;
    await a.reload(config(`${PAIR.vip}, ${second}`));
    await a.out.wait((l) => l.includes('ha: the VRRP config changed; keepalived reloads it'), from);
    // keepalived says nothing on the FIFO when a reload keeps its role: look until the address is there
    for (let i = 0; i < 200 && !(await pair.addresses(pair.nodes[0], 'eth0')).includes(second); i++);
    assert.ok((await pair.addresses(pair.nodes[0], 'eth0')).includes(second));
    assert.equal(await holds(pair, 0), true);
    assert.equal((await ctlHa(pair, 0)).vrrp.role, 'master');
    await a.stop();
  });
});
