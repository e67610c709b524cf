// The whole pair under a real failover: two furiwake nodes, each with its keepalived (100 ms
// adverts), the replication link on the back segment and conntrackd started by furiwake itself.
// The VIPs are the services' address in front and the servers' gateway behind. The master is
// killed as a host dies (its cables pulled, furiwake, keepalived and conntrackd SIGKILLed), and
// keepalived on the backup moves the VIPs. What the clients see on the new master: a client
// pinned by source-ip (tcp) and one pinned by cookie (http) keep their member, a member drained
// on the old master gets no new connection, a long download through a nat service goes on,
// complete and in order; and the time from the kill to the first new connection is printed.
// When the old master returns (preempt), it takes the VIPs back only once its peer's state arrived.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createPair, PAIR, type Pair } from './ha-net.ts';
import { ip } from './namespaces.ts';
import { killNode, prober, reviveNode } from './ha-node.ts';
import { Lines, startClient, startFuriwake, startServer, type Balancer, type Client } from './peers.ts';
import { fileURLToPath } from 'node:url';

const STREAM = fileURLToPath(new URL('./peers/slow-stream.ts', import.meta.url));
const ROUTER = 52;
const SYNC_KEY = 'a-shared-sync-key-of-32-characters';
const COOKIE_SECRET = 'a-shared-cookie-secret-of-32-chars';
/** a second address of the client, so that two clients are pinned (to different members) */
const OTHER_CLIENT = '10.88.1.11';

/** An http server in a server namespace: answers every request with its name. */
const HTTP_SERVER = `
require('node:http').createServer((req, res) => res.end(process.argv[1])).listen(8000, () => console.log('ready'));
`;

function nodeConfig(node: number, priority: number): string {
  const members = (port: number): string => `[ ${PAIR.servers.slice(0, 2).map((s, i) => `{ address: "${s}:${port}", id: s${i + 1} }`).join(', ')} ]`;
  // one event loop: the two clients are pinned to the two members by round-robin in turn (with
  // worker threads a new source-ip client's member comes from a hash of its address instead)
  return `global: { log-level: debug, shutdown-grace: 1s, workers: 1 }
admin: { listen: "127.0.0.1:9090" }
ha:
  interface: eth0
  router-id: ${ROUTER}
  priority: ${priority}
  advert: 100ms
  peers: [ ${PAIR.front[1 - node]} ]
  vips: [ ${PAIR.vip}, ${PAIR.gateway} ]
  sync:
    listen: "${PAIR.back[node]}:7400"
    peers: [ "${PAIR.back[1 - node]}:7400" ]
    key: ${SYNC_KEY}
services:
  sticky: { listen: "${PAIR.vip}:80", mode: tcp, pool: web, persistence: { method: source-ip, timeout: 10m } }
  plain: { listen: "${PAIR.vip}:81", mode: tcp, pool: spare }
  www: { listen: "${PAIR.vip}:8000", mode: http, pool: pages, persistence: { method: cookie, cookie: FWSRV, secret: ${COOKIE_SECRET} } }
  download: { listen: "${PAIR.vip}:8080", mode: nat, pool: stream }
pools:
  web: { members: ${members(80)} }
  spare: { members: ${members(80)} }
  pages: { members: ${members(8000)} }
  stream: { members: ${members(8080)} }
`;
}

/** The first log line from `from` on that says the node went into `role`. */
function role(node: Balancer, to: string, from = 0): Promise<string> {
  return node.out.wait((l) => l.startsWith('{') && (JSON.parse(l) as { msg?: string }).msg === `ha: this node is now ${to}`, from);
}

/** A JSON answer of a node's admin API (curl inside its namespace). */
async function api(pair: Pair, node: number, path: string, method = 'GET', body?: string): Promise<Record<string, unknown>> {
  const args = ['-sS', '-X', method, ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '-d', body]), `http://127.0.0.1:9090${path}`];
  const { stdout } = await pair.run(pair.nodes[node], 'curl', args);
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** One http request from the client to the www service; the server's name and the cookie it set, if any. */
async function request(pair: Pair, cookie?: string): Promise<{ server: string; cookie: string | null }> {
  const { stdout } = await pair.run(pair.client, 'curl', ['-sS', '-i', '--max-time', '5', ...(cookie === undefined ? [] : ['-H', `Cookie: ${cookie}`]), `http://${PAIR.vip}:8000/`]);
  const [head, server] = stdout.split('\r\n\r\n');
  const set = /^set-cookie: (FWSRV=[^;\r]*)/im.exec(head);
  return { server, cookie: set === null ? null : set[1] };
}

type StreamEvent = { event: string; got?: number; inOrder?: boolean; sent?: number };
const streamEvents = (lines: Lines): StreamEvent[] => lines.json() as StreamEvent[];
const progressed = (lines: Lines, bytes: number): Promise<string> =>
  lines.wait((l) => l.startsWith('{') && ((JSON.parse(l) as StreamEvent).got ?? 0) >= bytes);

/** The members that greet four new connections to the plain service (pool spare), one after another. */
async function spareGreetings(client: Client): Promise<string[]> {
  const greeted: string[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await client.connect(81, PAIR.client, PAIR.vip);
    assert.equal(c.ok, true, c.error);
    greeted.push(c.line!);
    await client.end(c.conn);
  }
  return greeted;
}

describe('a real failover of a furiwake pair', () => {
  let pair: Pair;
  let client: Client;
  const nodes: Balancer[] = [];
  before(async () => {
    pair = await createPair(2, 2);
    await ip(['-n', pair.client, 'addr', 'add', `${OTHER_CLIENT}/${PAIR.prefixLength}`, 'dev', 'eth0']);
    for (let i = 0; i < 2; i++) await startServer(pair, i);
    client = await startClient(pair);
  });
  after(async () => {
    for (const node of nodes) await node.stop();
    await pair?.close();
  });

  it('keeps pinned clients, a drained member and a nat download; the first new connection is timed', async () => {
    const pages = pair.servers.map((ns, i) => new Lines(pair.spawn(ns, process.execPath, ['-e', HTTP_SERVER, `s${i + 1}`])));
    const streams = pair.servers.map((ns, i) => new Lines(pair.spawn(ns, process.execPath, [STREAM, 'server', `s${i + 1}`, '8080'])));
    await Promise.all([...pages, ...streams].map((s) => s.wait((l) => l.includes('ready'))));

    const a = await startFuriwake(pair, nodeConfig(0, 150), pair.nodes[0]);
    nodes.push(a);
    await role(a, 'master');
    const b = await startFuriwake(pair, nodeConfig(1, 100), pair.nodes[1]);
    nodes.push(b);
    await role(b, 'backup');
    // the backup's link to the master is up and has sent its full resynchronisation
    await b.event('ha sync: link up, full resynchronisation sent');
    await a.event('ha sync: link up, full resynchronisation sent');

    // 1. two clients pinned by source-ip, to the two members (round-robin gives them in turn)
    const pinnedA = (await client.connect(80, OTHER_CLIENT, PAIR.vip)).line!;
    const pinnedB = (await client.connect(80, PAIR.client, PAIR.vip)).line!;
    assert.deepEqual([pinnedA, pinnedB].sort(), ['s1', 's2']);
    // two cookies, one for each member
    const first = await request(pair);
    const second = await request(pair);
    assert.deepEqual([first.server, second.server].sort(), ['s1', 's2']);
    assert.ok(first.cookie !== null && second.cookie !== null, 'the http service inserts its cookie');
    // the backup holds both stick entries before the failover
    for (let tries = 0; ; tries++) {
      const table = await api(pair, 1, '/api/v1/stick-tables/sticky');
      // quoted: the client's address is a prefix of the VIP's
      const keys = JSON.stringify(table);
      if (keys.includes(`"key":"${PAIR.client}"`) && keys.includes(`"key":"${OTHER_CLIENT}"`)) break;
      assert.ok(tries < 500, `the backup never got the stick entries: ${keys}`);
    }

    // 2. s1 of pool spare drained on the master reaches the backup
    const fromB = b.out.all.length;
    await api(pair, 0, '/api/v1/pools/spare/members/s1', 'PATCH', '{"state":"drain"}');
    await b.out.wait((l) => l.includes('ha sync: operator changes made on a peer applied'), fromB);

    // 3. a long download through the nat service, known to the backup's conntrackd
    const download = new Lines(pair.spawn(pair.client, process.execPath, [STREAM, 'client', PAIR.vip, '8080']));
    const connected = JSON.parse(await download.wait((l) => l.includes('"connected"'))) as { local: string };
    await progressed(download, 64 * 1024);
    const conntrackd = (await api(pair, 1, '/api/v1/ha')).conntrack as { pid: number };
    const argv = (await readFile(`/proc/${conntrackd.pid}/cmdline`, 'utf8')).split('\0');
    const conntrackdConfig = argv[argv.indexOf('-C') + 1];
    const port = connected.local.slice(connected.local.lastIndexOf(':') + 1);
    const flow = `src=${PAIR.client} dst=${PAIR.vip} sport=${port} dport=8080`;
    for (let tries = 0, external = ''; !external.includes(flow); tries++) {
      assert.ok(tries < 500, `the download is not in the backup's external cache:\n${external}`);
      external = (await pair.run(pair.nodes[1], 'conntrackd', ['-C', conntrackdConfig, '-e'])).stdout;
    }

    // the failover: the master dies; keepalived on the backup moves the VIPs
    const probe = await prober(pair, 81);
    const from = b.out.all.length;
    const killedAt = Date.now();
    await killNode(pair, 0);
    const probing = probe.go();
    const gotBefore = streamEvents(download).at(-1)?.got ?? 0;
    await role(b, 'master', from);
    const electedAt = Date.now();
    const probed = await probing.result;
    // 4. printed, not asserted: the machine's load decides it
    console.log(`failover of a furiwake pair (100ms adverts, master killed): the backup reported master after ${electedAt - killedAt} ms; ` +
      `a client retrying every 50 ms was greeted after ${probed.at - killedAt} ms (attempt ${probed.attempts})`);
    assert.equal(probed.greeting, 's2', 'the drained member got the probe');

    // 3. the download goes on through the new master: 64 KiB more, then the server finishes it
    await progressed(download, gotBefore + 64 * 1024);
    const serving = streams.filter((s) => streamEvents(s).some((e) => e.event === 'connection'));
    assert.equal(serving.length, 1, 'one connection, one server');
    serving[0].child.stdin!.write('finish\n');
    const finished = JSON.parse(await serving[0].wait((l) => l.includes('"finished"'))) as StreamEvent;
    const end = JSON.parse(await download.wait((l) => l.includes('"end"') || l.includes('"error"'))) as StreamEvent;
    assert.deepEqual(end, { event: 'end', got: finished.sent, inOrder: true });
    // it was the new master's conntrackd, started by furiwake, that committed the connection
    const { stdout: metrics } = await pair.run(pair.nodes[1], 'curl', ['-sS', 'http://127.0.0.1:9090/metrics']);
    assert.match(metrics, /^furiwake_ha_conntrack_commands_total\{command="commit",result="ok"\} 1$/m);
    assert.match(metrics, /^furiwake_ha_conntrack_commands_total\{command="commit",result="failed"\} 0$/m);

    // 1. the pinned clients keep their members on the new master: the same server answers them
    for (let i = 0; i < 3; i++) {
      for (const [from, pinned] of [[OTHER_CLIENT, pinnedA], [PAIR.client, pinnedB]]) {
        const again = await client.connect(80, from, PAIR.vip);
        assert.equal(again.line, pinned, `the client ${from}, pinned by source-ip, keeps its member`);
        await client.end(again.conn);
      }
    }
    for (const [cookie, server] of [[first.cookie, first.server], [second.cookie, second.server]]) {
      for (let i = 0; i < 2; i++) assert.equal((await request(pair, cookie)).server, server, 'the client pinned by cookie keeps its member');
    }

    // 2. the drained member gets no new connection on the new master
    assert.deepEqual(await spareGreetings(client), ['s2', 's2', 's2', 's2']);
    const member = (await api(pair, 1, '/api/v1/pools/spare/members/s1')) as { admin?: string };
    assert.equal(member.admin, 'drain');
  });

  it('the old master returns with preempt: the drain made on the new master holds on it as soon as it is master again', async () => {
    const b = nodes[1];
    // on the new master: s1 of spare back, s2 drained, while the old master is away
    await api(pair, 1, '/api/v1/pools/spare/members/s1', 'PATCH', '{"state":"enabled"}');
    await api(pair, 1, '/api/v1/pools/spare/members/s2', 'PATCH', '{"state":"drain"}');
    const from = b.out.all.length;
    await reviveNode(pair, 0);
    const a = await startFuriwake(pair, nodeConfig(0, 150), pair.nodes[0]);
    nodes.push(a);
    await role(a, 'master');
    await role(b, 'backup', from);
    // it waited for the peer's state, and took the VIPs after it arrived
    const log = a.out.all.filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg?: string }).msg);
    const received = log.indexOf(`ha: state received from ${PAIR.back[1]}:7400: this node may hold the VIPs`);
    assert.ok(received !== -1, 'the returning node waited for its peer\'s state');
    assert.ok(received < log.indexOf('ha: this node is now master'), 'the state arrived before it took the VIPs');
    // at once, the first new connections on the returning master avoid the member drained meanwhile
    assert.deepEqual(await spareGreetings(client), ['s1', 's1', 's1', 's1']);
  });
});
