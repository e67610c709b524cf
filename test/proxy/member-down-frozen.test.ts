// A member process that freezes (SIGSTOP): the kernel still accepts its connections, nothing
// answers. Its http monitor marks it down, and on-member-down (http: reselect) ends the requests
// in flight on it: a GET is answered by the other member long before the response timeout
// (60 s here), and no new request reaches the frozen member.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { it } from 'node:test';
import type { HttpMonitor } from '../../src/config/health-types.ts';
import { memberHealth, startApp } from '../helpers/app.ts';
import { atEnd } from '../helpers/cleanup.ts';
import { pool } from '../helpers/config.ts';
import { httpConfig, startMember } from './http/helpers.ts';

/** An http server in its own process that answers its name; its pid, to stop it with a signal. */
async function memberProcess(name: string): Promise<{ port: number; pid: number }> {
  const source = `const s = require('node:http').createServer((q, r) => r.end(${JSON.stringify(name)}));
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  atEnd(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await once(child, 'exit');
  });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { port: Number(line.toString().trim()), pid: child.pid! };
}

const monitor: HttpMonitor = {
  type: 'http', interval: 200, fastInterval: 100, timeout: 300, rise: 1, fall: 2, port: null,
  method: 'GET', path: '/', host: null, headers: {}, body: null, expectStatus: [[200, 399]],
  expectBody: null, maxBody: 65536, tls: { sni: null, verify: true, ca: null, cert: null, key: null },
};

/** A GET on a connection of its own, read whole: the answering member's name. */
async function get(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
  return { status: res.status, body: await res.text() };
}

it('requests in flight on a frozen member are answered by the other once its monitor marks it down', { timeout: 30_000 }, async () => {
  const a = await memberProcess('a');
  const b = await startMember('b', (_req, res) => res.end('b'));
  const config = httpConfig(pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }], {}, {
    health: { require: { kind: 'all' }, monitors: [monitor], agent: null, initialState: 'checking' },
  }));
  const http = config.services.svc!.http!;
  http.timeouts = { ...http.timeouts, response: 60_000 };
  const app = await startApp(config);
  await Promise.all([memberHealth(app, 'p', 'a', 'up'), memberHealth(app, 'p', 'b', 'up')]);
  const port = app.address('svc').port;

  process.kill(a.pid, 'SIGSTOP');
  // round-robin: of four requests, two are sent to the frozen member and wait there
  const answers = await Promise.all([get(port), get(port), get(port), get(port)]);
  assert.deepEqual(answers.map((r) => `${r.status} ${r.body}`), ['200 b', '200 b', '200 b', '200 b']);
  const frozen = app.runtime.member('p', 'a')!;
  assert.equal(frozen.health, 'down');
  assert.equal(frozen.active, 0);
  // new requests never reach it while it is down
  for (let i = 0; i < 4; i++) assert.equal((await get(port)).body, 'b');
});
