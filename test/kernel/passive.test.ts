// Passive health on the nat path without a kernel: how conntrack's lines are judged (passive.ts),
// and a DESTROY event read from a `conntrack -E` child (a stand-in script here) reaching the member.

import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conntrackLine, readEventLine, type ConntrackLine } from '../../src/kernel/conntrack.ts';
import { CONNECT_TIMEOUT, KernelPassive } from '../../src/kernel/passive.ts';
import type { KernelServiceView } from '../../src/kernel/view.ts';
import { createLogger } from '../../src/log.ts';
import type { Member } from '../../src/runtime/member.ts';
import type { Service } from '../../src/runtime/service.ts';
import { logSink } from '../helpers/app.ts';
import { until } from '../helpers/wait.ts';

/** A member as passive health sees it: what it was told, in order. */
function member(id = 's3'): Member & { told: string[] } {
  const told: string[] = [];
  return { id, told, passive: { failure: (kind: string) => told.push(kind), success: () => told.push('success') } } as unknown as Member & { told: string[] };
}

function line(text: string): ConntrackLine {
  const r = conntrackLine();
  assert.ok(readEventLine(`[NEW] ${text}`, r), text);
  return r;
}

const tuple = (state: string, flags: string, id: number): string =>
  `tcp 6 100 ${state} src=10.88.1.10 dst=10.88.2.100 sport=${40000 + id} dport=84 ${flags} src=10.88.2.13 dst=10.88.1.10 sport=84 dport=${40000 + id} id=${id}`;

const view: KernelServiceView = {
  name: 'refusing', mode: 'nat', protocol: 'tcp', family: 'ip', vip: '10.88.2.100', port: 84, method: 'round-robin',
  members: [{ number: 0, id: 's3', ip: '10.88.2.13', port: 84, weight: 1, backup: false, usable: true, serves: true }],
  persistence: null, sourceNat: false, interface: null, idle: 300_000, flowSize: 65536, flushOnDown: false, accepting: true,
};

describe('nat passive health: judging conntrack', () => {
  it('an unanswered SYN is a connect timeout once it has waited long enough, and only once', () => {
    const p = new KernelPassive(createLogger('silent'));
    const m = member();
    const syn = line(tuple('SYN_SENT', '[UNREPLIED]', 1));
    for (const at of [0, CONNECT_TIMEOUT - 1, CONNECT_TIMEOUT, CONNECT_TIMEOUT + 1000]) {
      p.begin(at);
      p.see(syn, m);
      p.end();
    }
    assert.deepEqual(m.told, ['connect-timeout']);
  });

  it('an answered connection is a success, told before the failures of the same count; a closed one says nothing', () => {
    const p = new KernelPassive(createLogger('silent'));
    const m = member();
    p.begin(0);
    p.see(line(tuple('SYN_SENT', '[UNREPLIED]', 1)), m);
    p.end();
    p.begin(CONNECT_TIMEOUT);
    p.see(line(tuple('SYN_SENT', '[UNREPLIED]', 1)), m);
    p.see(line(tuple('ESTABLISHED', '[ASSURED]', 2)), m);
    p.see(line(tuple('CLOSE', '', 3)), m);
    p.see(line(tuple('CLOSE', '[UNREPLIED]', 4)), m);
    p.end();
    // seen again: judged already
    p.begin(CONNECT_TIMEOUT + 1000);
    p.see(line(tuple('TIME_WAIT', '[ASSURED]', 2)), m);
    p.end();
    assert.deepEqual(m.told, ['success', 'connect-timeout']);
  });

  it('udp: a reply is a success, an ICMP error (the mark) a failure, silence nothing', () => {
    const p = new KernelPassive(createLogger('silent'));
    const m = member();
    const udp = (flags: string, mark: number, id: number): ConntrackLine =>
      line(`udp 17 30 src=10.88.1.10 dst=10.88.2.100 sport=${50000 + id} dport=86 ${flags} src=10.88.2.13 dst=10.88.1.10 sport=86 dport=${50000 + id} mark=${mark} id=${id}`);
    for (const at of [0, 1000]) {
      p.begin(at);
      p.see(udp('[UNREPLIED]', 0, 1), m);
      p.see(udp('[UNREPLIED]', 0x40000000 | 5, 2), m);
      p.see(udp('', 0, 3), m);
      p.end();
    }
    assert.deepEqual(m.told, ['success', 'connect']);
  });

  it('a connection gone from the listing is forgotten: its id seen again is a new connection', () => {
    const p = new KernelPassive(createLogger('silent'));
    const m = member();
    const established = line(tuple('ESTABLISHED', '[ASSURED]', 7));
    for (const at of [0, 1000]) {
      p.begin(at);
      p.see(established, m);
      p.end();
    }
    p.begin(2000);
    p.end();
    p.begin(3000);
    p.see(established, m);
    p.end();
    assert.deepEqual(m.told, ['success', 'success']);
  });

  it("a SYN the member reset reaches it from conntrack's DESTROY event, at the end of the next listing; other events say nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'furiwake-passive-'));
    try {
      const fake = join(dir, 'conntrack');
      // what conntrack -E prints: a reset SYN, a client that gave up, one of another member, one cut in two
      await writeFile(fake, `#!/bin/sh
echo "[DESTROY] ${tuple('TIME_WAIT', '[ASSURED]', 1)}"
echo "[DESTROY] ${tuple('CLOSE', '[UNREPLIED]', 2).replace('src=10.88.2.13', 'src=10.88.2.12')}"
printf '[DESTROY] ${tuple('CLOSE', '[UNREPLIED]', 3).slice(0, 40)}'
sleep 0.1
printf '${tuple('CLOSE', '[UNREPLIED]', 3).slice(40)}\\n'
exec sleep 30
`);
      await chmod(fake, 0o755);
      const p = new KernelPassive(createLogger('silent'));
      const m = member();
      const service = { pool: { passive: { config: { failures: 3 } }, members: [m] } } as unknown as Service;
      p.watch(fake, [[view, service]]);
      // each second's listing (empty here) tells what the events said since the last one
      await until(() => {
        p.begin(0);
        p.end();
        return m.told.length > 0;
      });
      p.stop();
      assert.deepEqual(m.told, ['connect']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a reset SYN is no failure of a member that answered others meanwhile: a client's own reset to its SYN leaves the same event", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'furiwake-passive-'));
    try {
      const fake = join(dir, 'conntrack');
      // s3's reset SYN first, then s2's: once s2 hears of its own, s3's was read too
      await writeFile(fake, `#!/bin/sh
echo "[DESTROY] ${tuple('CLOSE', '[UNREPLIED]', 1)}"
echo "[DESTROY] ${tuple('CLOSE', '[UNREPLIED]', 2).replace('src=10.88.2.13', 'src=10.88.2.12')}"
exec sleep 30
`);
      await chmod(fake, 0o755);
      const p = new KernelPassive(createLogger('silent'));
      const [s3, s2] = [member('s3'), member('s2')];
      const service = { pool: { passive: { config: { failures: 3 } }, members: [s3, s2] } } as unknown as Service;
      const two = { ...view, members: [view.members[0], { ...view.members[0], number: 1, id: 's2', ip: '10.88.2.12' }] };
      p.watch(fake, [[two, service]]);
      // s3 accepts a new connection in every listing; s2 none
      let id = 10;
      await until(() => {
        p.begin(0);
        p.see(line(tuple('ESTABLISHED', '[ASSURED]', id++)), s3);
        p.end();
        return s2.told.length > 0;
      });
      p.stop();
      assert.deepEqual(s2.told, ['connect']);
      assert.ok(s3.told.length > 0 && s3.told.every((t) => t === 'success'), s3.told.join());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a conntrack -E that keeps exiting at once is started again after a pause that doubles: no warning a second for ever', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'furiwake-passive-'));
    try {
      const fake = join(dir, 'conntrack');
      await writeFile(fake, '#!/bin/sh\necho "conntrack v1.4.7 (conntrack-tools): Operation not permitted" >&2\nexit 1\n');
      await chmod(fake, 0o755);
      const { sink, lines } = logSink();
      const p = new KernelPassive(createLogger('warn', sink));
      const service = { pool: { passive: { config: { failures: 3 } }, members: [member()] } } as unknown as Service;
      p.watch(fake, [[view, service]]);
      const ended = () => lines.filter((l) => l.msg === 'kernel: conntrack -E ended; starting it again');
      await until(() => ended().length === 3, sink, 'line');
      p.stop();
      assert.deepEqual(ended().map((l) => l.again), ['1 s', '2 s', '4 s']);
      assert.match(String(ended()[0].said), /Operation not permitted/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a conntrack -E that cannot even be spawned is tried again later, nothing thrown', async () => {
    const { sink, lines } = logSink();
    const p = new KernelPassive(createLogger('warn', sink));
    const service = { pool: { passive: { config: { failures: 3 } }, members: [member()] } } as unknown as Service;
    // a path node refuses to pass (as a spawn out of file descriptors, it fails before any process)
    assert.doesNotThrow(() => p.watch('/usr/sbin/conntrack\0', [[view, service]]));
    const ended = () => lines.filter((l) => l.msg === 'kernel: conntrack -E ended; starting it again');
    await until(() => ended().length === 2, sink, 'line');
    p.stop();
    assert.deepEqual(ended().map((l) => l.again), ['1 s', '2 s']);
    assert.ok(lines.some((l) => l.msg === 'kernel: conntrack -E did not start'));
  });

  it('watches only nat services taking connections whose pool has passive health on', () => {
    const on = { pool: { passive: { config: { failures: 5 } } } } as unknown as Service;
    const off = { pool: { passive: { config: { failures: 0 } } } } as unknown as Service;
    assert.equal(KernelPassive.watches(view, on), true);
    assert.equal(KernelPassive.watches(view, off), false);
    assert.equal(KernelPassive.watches({ ...view, mode: 'dsr' }, on), false);
    assert.equal(KernelPassive.watches({ ...view, protocol: 'udp' }, on), true);
    assert.equal(KernelPassive.watches({ ...view, accepting: false }, on), false);
  });
});
