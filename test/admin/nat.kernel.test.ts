// The admin API over the kernel fast path: a nat service's connections come from conntrack and
// its persistence entries from nftables, read through runtime.kernel. furiwake runs in the
// balancer namespace of a test topology (test/kernel/netns.ts), with its admin listener on that
// namespace's loopback; `furiwake ctl` asks it from inside the namespace.

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createTopology, NET, type Topology } from '../kernel/netns.ts';
import { startClient, startFuriwake, startServer, type Balancer, type Client } from '../kernel/peers.ts';

const BIN = fileURLToPath(new URL('../../bin/furiwake.js', import.meta.url));
const MEMBERS = NET.servers.map((ip, i) => `      - { address: ${ip}:80, id: s${i + 1} }`).join('\n');
const CONFIG = `admin: { listen: 127.0.0.1:9090 }
services:
  www: { listen: ${NET.vip}:80, mode: nat, pool: web }
  sticky: { listen: ${NET.vip}:82, mode: nat, pool: web, persistence: { method: source-ip, mask: 24, timeout: 10m } }
pools:
  web:
    members:
${MEMBERS}
`;

describe('admin API over nat services', () => {
  let t: Topology;
  let client: Client;
  let fw: Balancer;

  before(async () => {
    t = await createTopology(3);
    await Promise.all([0, 1, 2].map((i) => startServer(t, i)));
    await startServer(t, 0, 82);
    await startServer(t, 1, 82);
    await startServer(t, 2, 82);
    client = await startClient(t);
    fw = await startFuriwake(t, CONFIG);
  });
  after(async () => {
    await fw?.stop();
    await t?.close();
  });

  /** `furiwake ctl ...` in the balancer namespace. */
  async function ctl(...args: string[]) {
    const r = await t.run(t.balancer, process.execPath, [BIN, 'ctl', '--admin', 'http://127.0.0.1:9090', ...args]).catch((e: { stdout?: string; stderr?: string; code?: number }) => e);
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), code: (r as { code?: number }).code ?? 0 };
  }

  /** The row of a service's listing whose client is `local` (the client's address:port); undefined when not listed. */
  async function rowOf(service: string, local: string) {
    const page = JSON.parse((await ctl('connections', '--service', service, '--json')).stdout) as { items: { id: number; client: { address: string; port: number } }[] };
    return page.items.find((r) => `${r.client.address}:${r.client.port}` === local);
  }

  it("lists a nat connection from conntrack: client -> VIP, the member, the kernel's state", async () => {
    const c = await client.connect(80);
    assert.equal(c.ok, true, c.error);
    const port = Number(c.local!.split(':')[1]);
    const { stdout, stderr } = await ctl('connections', '--service', 'www', '--json');
    const page = JSON.parse(stdout) as { total: number; items: { client: { port: number }; vip: unknown; member: { id: string } | null; kernel: { mode: string; state: string; target: { address: string } } | null; request: unknown }[] };
    const row = page.items.find((r) => r.client.port === port);
    assert.ok(row !== undefined, `${stdout}\n${stderr}`);
    const member = `s${c.line!.slice(1)}`;
    assert.deepEqual(row.vip, { address: NET.vip, port: 80 });
    assert.equal(row.member?.id, member);
    assert.deepEqual([row.kernel?.mode, row.kernel?.state, row.kernel?.target.address], ['nat', 'ESTABLISHED', NET.servers[Number(c.line!.slice(1)) - 1]]);
    assert.equal(row.request, null);
    const text = await ctl('connections', '--service', 'www');
    assert.match(text.stdout, new RegExp(`${NET.client.replace(/\./g, '\\.')}:${port}\\s+->\\s+${NET.vip.replace(/\./g, '\\.')}:80\\s+=>\\s+-\\s+->\\s+\\S+ web/${member} \\(nat ESTABLISHED\\)`));
    await client.end(c.conn);
  });

  it('ends a nat connection by id: its conntrack entry goes, its next packet is balanced afresh', async () => {
    const c = await client.connect(80);
    assert.equal(c.ok, true, c.error);
    const listed = () => rowOf('www', c.local!);
    const row = await listed();
    assert.ok(row !== undefined && row.id > 0);
    const ending = await ctl('shutdown', String(row.id), '--json');
    assert.equal(ending.code, 0, ending.stderr);
    assert.deepEqual(JSON.parse(ending.stdout), { ended: 1, kernel: 0 });
    assert.equal(await listed(), undefined);
    const again = await ctl('shutdown', String(row.id));
    assert.match(again.stderr, new RegExp(`404: no connection ${row.id}`));
    // its next packet is balanced afresh (conntrack picks up a mid-stream tcp packet): another
    // member has no socket for it and resets it; the same member would carry it on
    const sent = await client.send(c.conn, 'after');
    assert.ok(sent.ok ? sent.line === `${c.line}:after` : sent.error === 'ECONNRESET', JSON.stringify(sent));
    await client.end(c.conn);
  });

  it('a nat connection ended by id whose client persistence keeps on its member carries on under a new entry', async () => {
    const c = await client.connect(82);
    assert.equal(c.ok, true, c.error);
    const listed = () => rowOf('sticky', c.local!);
    const first = await listed();
    assert.deepEqual(JSON.parse((await ctl('shutdown', String(first!.id), '--json')).stdout), { ended: 1, kernel: 0 });
    assert.equal((await client.send(c.conn, 'after')).line, `${c.line}:after`);
    // listed again: a new entry (conntrack may give it the same id)
    assert.notEqual(await listed(), undefined);
    await client.end(c.conn);
  });

  it("ends a nat service's connections, and a member's", async () => {
    const conns = [await client.connect(80), await client.connect(80), await client.connect(80)];
    for (const c of conns) assert.equal(c.ok, true, c.error);
    type Page = { items: { client: { port: number }; member: { id: string } | null }[] };
    const rows = async () => (JSON.parse((await ctl('connections', '--service', 'www', '--json')).stdout) as Page).items;
    const mine = (await rows()).filter((r) => conns.some((c) => c.local === `${NET.client}:${r.client.port}`));
    assert.equal(mine.length, 3);
    const member = mine.find((r) => r.client.port === Number(conns[0].local!.split(':')[1]))!.member!.id;
    const byMember = await ctl('shutdown', '--member', `web/${member}`, '--json');
    assert.equal(byMember.code, 0, byMember.stderr);
    // at least ours (every entry counts, of earlier connections closing too)
    const many = mine.filter((r) => r.member?.id === member).length;
    const ended = JSON.parse(byMember.stdout) as { ended: number; kernel: number };
    assert.ok(ended.ended >= many && ended.kernel === 0, byMember.stdout);
    assert.deepEqual((await rows()).filter((r) => r.member?.id === member), []);
    const byService = await ctl('shutdown', '--service', 'www', '--json');
    assert.equal(byService.code, 0, byService.stderr);
    const rest = JSON.parse(byService.stdout) as { ended: number; kernel: number };
    assert.ok(rest.ended >= 3 - many && rest.kernel === 0, byService.stdout);
    assert.deepEqual(await rows(), []);
    for (const c of conns) await client.send(c.conn, 'after').then(() => client.end(c.conn));
  });

  it("shows a nat service's persistence entries from nftables, read-only", async () => {
    const c = await client.connect(82);
    assert.equal(c.ok, true, c.error);
    await client.end(c.conn);
    const tables = await ctl('stick');
    assert.match(tables.stdout, /sticky\s+source-ip \(kernel\)\s+1\s+100000\s+-\s+-\s+-\s+-/);
    const entries = JSON.parse((await ctl('stick', 'sticky', '--json')).stdout) as { items: { key: string; member: string | null }[] };
    assert.deepEqual(entries.items.map((e) => [e.key, e.member]), [[`${NET.client.replace(/\.\d+$/, '.0')}/24`, `s${c.line!.slice(1)}`]]);
    const deleting = await ctl('stick', 'sticky', '--delete', '--all');
    assert.equal(deleting.code, 1);
    assert.match(deleting.stderr, /409: the kernel keeps the stick table of sticky \(an nftables set\); its entries cannot be deleted here and expire on their own/);
  });
});
