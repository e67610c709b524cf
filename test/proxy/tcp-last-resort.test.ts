// The tcp plane's last resort: a throw inside a connection's event callbacks (a bug, whatever its
// cause) ends that one connection with a reset, is logged and counted, and never reaches the
// event loop, where it would end the process and every other connection with it.

import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import { createLogger } from '../../src/log.ts';
import { logSink } from '../helpers/app.ts';
import { exchange, greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';

describeOnEachEngine('a throw in a tcp connection callback', () => {
  it('ends that connection only: logged, counted, and the next client is served', async () => {
    const a = await startTcpServer('a');
    const { sink, lines } = logSink();
    const app = await Furiwake.start(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])), createLogger('info', sink));
    after(() => app.stop(0));
    const port = app.address('svc').port;
    const member = app.runtime.member('p', 'a')!;
    const recordLatency = member.recordLatency;
    // a bug in the connected callback, once
    member.recordLatency = () => {
      member.recordLatency = recordLatency;
      throw new Error('injected failure');
    };
    const broken = await exchange(port, 'hello');
    assert.equal(broken.ending, 'reset');
    assert.equal(app.runtime.resources.connectionsFailed, 1);
    const logged = lines.find((l) => l.msg === 'connection ended by an unexpected error');
    assert.equal((logged?.err as { message?: string } | undefined)?.message, 'injected failure');
    assert.equal(await greeting(port), 'a');
    // the broken connection left nothing behind: no table entry, no member count
    await until(() => app.runtime.connections.size === 0);
    assert.equal(member.active, 0);
  });
});
