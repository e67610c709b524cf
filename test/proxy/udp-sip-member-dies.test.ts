// A SIP UAS dies in the middle of a run (`balance-per: sip-dialog`): SIPp's UAC on one socket
// places calls through the service onto two SIPp UASes; one UAS is stopped mid-run. Its port
// answers ICMP unreachable, passive health ejects it, and the UAC's retransmissions of new calls'
// INVITEs go to the other: only the calls the dead UAS held fail (their BYE has nowhere to go).

import assert from 'node:assert/strict';
import path from 'node:path';
import { it } from 'node:test';
import { memberReaches, startApp } from '../helpers/app.ts';
import { pool, single } from '../helpers/config.ts';
import { tempDir } from '../helpers/files.ts';
import { until } from '../helpers/wait.ts';
import { received, uac, uas } from './udp-sip-helpers.ts';

const CALLS = 150;

it('new calls move to the other UAS when one dies; only the calls it held fail', { timeout: 60_000 }, async () => {
  const dir = await tempDir('sip-dies');
  const logs = ['a', 'b'].map((n) => path.join(dir, `uas-${n}.log`));
  const servers = await Promise.all(logs.map(uas));
  const app = await startApp(single('udp', pool('round-robin', servers.map((s, i) => ({ port: s.port, id: 'ab'[i] })), {}, {
    health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'up' },
  }), { balancePer: 'sip-dialog' }));
  const vip = app.address('svc');
  const b = app.runtime.member('p', 'b')!;

  // 50 calls a second, each held for 500 ms before its BYE: about 25 in progress at once. A call
  // whose INVITE b answered 180 but not 200 would wait for ever (SIPp has no Timer C): failed after 5 s
  const run = uac(vip.port, CALLS, ['-d', '500', '-recv_timeout', '5s']);
  await until(() => b.total >= 40);
  await servers[1].peer.stop(); // writes out its message log
  const ejected = await memberReaches(app, 'p', 'b', (m) => m.passive.ejected);
  const placed = ejected.total;
  const result = await run;
  await servers[0].peer.stop();

  const [onA, onB] = await Promise.all(logs.map(received));
  // the calls b held when it died: it got their INVITE, not their BYE
  const held = [...onB.values()].filter((methods) => methods.includes('INVITE') && !methods.includes('BYE')).length;
  assert.ok(onB.size > 0, 'b had calls');
  assert.equal(result.successful + result.failed, CALLS);
  assert.ok(result.failed <= held, `${result.failed} calls failed; b held ${held} when it died\n${result.output.slice(-3000)}`);
  assert.equal(b.total, placed, 'nothing went to b once it was ejected');
  assert.match(b.passive.reason, /ICMP unreachables|no reply/);
  // a completed every call that did not end on b
  const completedOnA = [...onA.values()].filter((methods) => methods.includes('BYE')).length;
  const completedOnB = [...onB.values()].filter((methods) => methods.includes('BYE')).length;
  assert.ok(completedOnA + completedOnB >= result.successful, `a completed ${completedOnA}, b ${completedOnB}, SIPp counted ${result.successful}`);
  assert.ok(onA.size > CALLS / 2, `a took the calls after b died: ${onA.size}`);
});
