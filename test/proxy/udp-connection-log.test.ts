// The connection log of a udp service (access-log: true): one line per flow when it ends, idle
// or evicted for a new client (max-flows), with its client, pool, member and bytes each way.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import { createLogger } from '../../src/log.ts';
import { logSink } from '../helpers/app.ts';
import { udpClient } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { startUdpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';

describe('udp connection log', () => {
  it('logs a flow when it goes idle, and one evicted for a new client', async () => {
    const m = await startUdpServer('m');
    const { sink, lines } = logSink();
    const config = single('udp', pool('round-robin', [{ port: m.port, id: 'm' }]), { accessLog: true, maxFlows: 1, timeouts: { connect: 1_000, idle: 200 } });
    const app = await Furiwake.start(config, createLogger('info', sink));
    after(() => app.stop(0));
    const port = app.address('svc').port;
    const flows = () => lines.filter((l) => l.msg === 'connection');
    const [a, b] = [await udpClient(), await udpClient()];
    after(() => Promise.all([a.close(), b.close()]));
    assert.equal((await a.ask(port, 'ping')).text, 'm:ping');
    assert.equal((await a.ask(port, 'again')).text, 'm:again');
    // b takes a's place (max-flows 1): a's flow ends, evicted
    assert.equal((await b.ask(port, 'hi')).text, 'm:hi');
    await until(() => flows().length >= 1, sink, 'line');
    const evicted = flows()[0];
    assert.deepEqual(
      [evicted.client, evicted.service, evicted.pool, evicted.member, evicted.protocol, evicted.bytesIn, evicted.bytes, evicted.termination],
      ['127.0.0.1', 'svc', 'p', 'm', 'udp', 9, 13, 'evicted'],
    );
    // b's flow ends when idle
    await until(() => flows().length >= 2, sink, 'line');
    const idle = flows()[1];
    assert.deepEqual([idle.bytesIn, idle.bytes, idle.termination], [2, 4, 'idle-timeout']);
    assert.equal(typeof idle.total, 'number');
  });
});
