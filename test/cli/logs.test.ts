// What the log says at start and on a reload: members with monitors start 'checking' (no
// transition logged), "config applied" says what runs or what changed, and a start that cannot
// bind never says its config was applied.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { logSink } from '../helpers/app.ts';
import { until } from '../helpers/wait.ts';
import { freePort } from '../helpers/ports.ts';
import { startTcpServer } from '../helpers/servers.ts';

function yaml(listen: number, members: number[], monitors = true): string {
  return `services:
  svc: { listen: 127.0.0.1:${listen}, mode: tcp, pool: p }
pools:
  p:
    members: [ ${members.map((port, i) => `{ address: 127.0.0.1:${port}, id: m${i + 1} }`).join(', ')} ]
${monitors ? '    health: { monitors: [ { type: tcp, interval: 1s, rise: 1, fall: 1 } ] }\n' : ''}`;
}

describe('log lines at start and on reload', () => {
  it('members with monitors start checking: the first health change logged is checking -> up', async () => {
    const a = await startTcpServer('a');
    after(() => a.close());
    const { sink, lines } = logSink();
    const app = await Furiwake.start(parseConfig(yaml(0, [a.port]), 'test.yaml'), createLogger('info', sink));
    after(() => app.stop(0));
    await until(() => app.runtime.member('p', 'm1')!.health === 'up');
    const health = lines.filter((l) => l.msg === 'member health changed');
    assert.deepEqual(health.map((l) => [l.from, l.to]), [['checking', 'up']]);
  });

  it('config applied says what runs at start, and what changed on a reload (down to the members)', async () => {
    const a = await startTcpServer('a');
    const b = await startTcpServer('b');
    after(() => Promise.all([a.close(), b.close()]));
    const { sink, lines } = logSink();
    const port = await freePort();
    const app = await Furiwake.start(parseConfig(yaml(port, [a.port], false), 'test.yaml'), createLogger('info', sink));
    after(() => app.stop(0));
    const applied = () => lines.filter((l) => l.msg === 'config applied').map((l) => l.summary);
    assert.deepEqual(applied(), ['1 service (svc), 1 pool (p: 1 member)']);
    await app.reload(parseConfig(yaml(port, [a.port, b.port], false), 'test.yaml'));
    await app.reload(parseConfig(yaml(port, [a.port, b.port], false), 'test.yaml'));
    assert.deepEqual(applied().slice(1), ['pool p changed: member m2 added', 'nothing changed']);
  });

  it('a start that cannot bind logs no "config applied"', async () => {
    const a = await startTcpServer('a');
    const taken = net.createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    after(() => Promise.all([a.close(), new Promise((resolve) => taken.close(resolve))]));
    const { sink, lines } = logSink();
    const port = (taken.address() as net.AddressInfo).port;
    await assert.rejects(Furiwake.start(parseConfig(yaml(port, [a.port], false), 'test.yaml'), createLogger('info', sink)), /cannot listen/);
    assert.deepEqual(lines.filter((l) => l.msg === 'config applied'), []);
  });
});
