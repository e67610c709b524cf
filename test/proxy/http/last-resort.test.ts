// The http plane's last resort: a throw inside a connection's event callbacks (a bug, whatever its
// cause), on the client's side or the member's, ends that one connection with a reset, is logged
// and counted, and never reaches the event loop, where it would end the process and every other
// connection with it.

import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import { logSink } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { httpConfig, raw, startMember } from './helpers.ts';

describeOnEachEngine('a throw in an http connection callback', () => {
  const GET = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

  async function start(): Promise<{ app: Furiwake; port: number; lines: Record<string, unknown>[] }> {
    const m = await startMember('a');
    const { sink, lines } = logSink();
    const app = await Furiwake.start(httpConfig(pool('round-robin', [{ port: m.port, id: 'a' }])), createLogger('info', sink));
    after(() => app.stop(0));
    return { app, port: app.address('svc').port, lines };
  }

  /** Makes `name` of `target` throw on its next call only. */
  function breakOnce<T extends object>(target: T, name: keyof T & string): void {
    const original = target[name] as (...args: unknown[]) => unknown;
    (target as Record<string, unknown>)[name] = () => {
      (target as Record<string, unknown>)[name] = original;
      throw new Error('injected failure');
    };
  }

  it('on the client side (choosing a member): that connection is reset, logged, counted; the next is served', async () => {
    const { app, port, lines } = await start();
    breakOnce(app.runtime.pools.get('p')!, 'acquire');
    const broken = await raw(port, GET);
    assert.equal(broken.status, 0, 'no answer: the connection is closed');
    assert.equal(app.runtime.resources.connectionsFailed, 1);
    const logged = lines.find((l) => l.msg === 'connection ended by an unexpected error');
    assert.equal((logged?.err as { message?: string } | undefined)?.message, 'injected failure');
    assert.equal((await raw(port, GET)).status, 200);
    await app.runtime.connections.drained();
  });

  it('on the member side (the response ending): the same, and the member connection is closed', async () => {
    const { app, port } = await start();
    // the exchange gives the member back when the member's last response byte arrives: a bug there, once
    breakOnce(app.runtime.pools.get('p')!, 'release');
    await raw(port, GET); // (the answer may be through already when the bug strikes: the connection is cut either way)
    assert.equal(app.runtime.resources.connectionsFailed, 1);
    assert.equal((await raw(port, GET)).status, 200);
    await app.runtime.connections.drained();
  });
});
