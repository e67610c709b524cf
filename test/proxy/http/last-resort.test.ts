// The http plane's last resort, as the tcp plane's: a throw inside the handling of one connection
// (a bug, whatever its cause) — in an event of the client's socket, of the member's socket, or of
// the listener's timer — resets that client, is logged and counted, and never reaches the event
// loop, where it would end the process and every other connection with it.

import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import { logSink } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { httpConfig, raw, startMember } from './helpers.ts';
import { until } from '../../helpers/wait.ts';

describeOnEachEngine('a throw in an http connection', () => {
  it('ends that connection only, wherever it came from: logged, counted, and the next client is served', async () => {
    const m = await startMember('a');
    const { sink, lines } = logSink();
    const config = httpConfig(pool('round-robin', [{ port: m.port, id: 'a' }]), {
      timeouts: { headers: 200, response: 60_000, keepAlive: 60_000, request: 0, body: 60_000, minBodyRate: 0 },
    });
    const app = await Furiwake.start(config, createLogger('info', sink));
    after(() => app.stop(0));
    const port = app.address('svc').port;
    const counts = app.runtime.requests;
    const count = counts.count;
    // a bug in the response counter, once: it runs at the end of every exchange and of every refusal
    const breakOnce = (): void => {
      counts.count = () => {
        counts.count = count;
        throw new Error('injected failure');
      };
    };
    const cases: [string, string][] = [
      // the member's response completes the exchange: an event of the member's socket
      ['member socket', 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
      // a malformed request is refused: an event of the client's socket
      ['client socket', 'GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n'],
      // a head that does not end within the headers timeout: the listener's sweep
      ['timer', 'GET / HTTP/1.1\r\nHost: x\r\n'],
    ];
    for (const [where, request] of cases) {
      breakOnce();
      const broken = await raw(port, request);
      assert.equal(broken.ending, 'reset', where);
      const served = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(served.status, 200, where);
    }
    assert.equal(app.runtime.resources.connectionsFailed, 3);
    const logged = lines.filter((l) => l.msg === 'connection ended by an unexpected error');
    assert.deepEqual(logged.map((l) => (l.err as { message?: string }).message), ['injected failure', 'injected failure', 'injected failure']);
    // the broken connections left nothing behind: no table entry, no member count
    await until(() => app.runtime.connections.size === 0);
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
  });
});
