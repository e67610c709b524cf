// What a reload says it changed (the log's summary, the answer of POST /api/v1/reload and
// `furiwake ctl reload`): a changed ha section is named with the keys that changed, never a value.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { describeChanges } from '../../src/runtime/config-changes.ts';
import { Runtime } from '../../src/runtime/runtime.ts';

const BASE = 'services:\n  www: { listen: 127.0.0.10:80, mode: tcp, pool: web }\npools:\n  web: { members: [ { address: 10.0.0.1:80 } ] }\n';
const HA = (priority: number, key = 'k'.repeat(16)) =>
  `ha:\n  interface: lo\n  router-id: 7\n  vips: [ 127.0.0.10 ]\n  priority: ${priority}\n  sync: { listen: 127.0.0.1:7400, peers: [ 127.0.0.2:7400 ], key: ${key} }\n`;
const config = (text: string) => parseConfig(text, 'test.yaml', {});

describe('describeChanges: the ha section', () => {
  it('a changed priority is named, not "nothing changed"', () => {
    assert.deepEqual(describeChanges(config(BASE + HA(150)), config(BASE + HA(90))), ['ha changed: priority']);
  });

  it('a changed sync key says sync, never the key', () => {
    const [line] = describeChanges(config(BASE + HA(150)), config(BASE + HA(150, 's'.repeat(20))));
    assert.equal(line, 'ha changed: sync');
  });

  it('added, removed, the same', () => {
    assert.deepEqual(describeChanges(config(BASE), config(BASE + HA(100))), ['ha added']);
    assert.deepEqual(describeChanges(config(BASE + HA(100)), config(BASE)), ['ha removed']);
    assert.deepEqual(describeChanges(config(BASE + HA(100)), config(BASE + HA(100))), []);
  });
});

describe('describeChanges: the logs section', () => {
  const LOGS = (access: string, extra = '') => `logs:\n  access: ${access}\n${extra}`;
  const SYSLOG = (port: number) => `  syslog: { address: udp://127.0.0.1:${port} }\n`;
  const change = (a: string, b: string) => describeChanges(config(BASE + a), config(BASE + b));

  it('names the access log part that changed, not "nothing changed"', () => {
    assert.deepEqual(change(LOGS('{ fields: [client] }'), LOGS('{ fields: [client, status] }')), ['logs changed: access fields']);
    assert.deepEqual(change(LOGS("{ line: '$client' }"), LOGS("{ line: '$client $status' }")), ['logs changed: access line']);
    assert.deepEqual(change(LOGS("{ line: '$client' }"), LOGS('{ fields: [client], to: syslog }', SYSLOG(514))), ['logs changed: access format, access destination, syslog added']);
  });

  it('the process destination, the syslog server, the access log itself', () => {
    assert.deepEqual(change(LOGS('{ to: syslog }', SYSLOG(514)), LOGS('{ to: syslog }', SYSLOG(515))), ['logs changed: syslog']);
    assert.deepEqual(change('logs:\n  process: { to: stdout }\n', 'logs:\n  process: { to: file:/tmp/p.log }\n'), ['logs changed: process destination']);
    assert.deepEqual(change('logs:\n  process: { to: stdout }\n', LOGS('{ fields: [client] }')), ['logs changed: access log added']);
    assert.deepEqual(change(LOGS('{ fields: [client] }'), ''), ['logs removed']);
    assert.deepEqual(change(LOGS('{ fields: [client] }'), LOGS('{ fields: [client] }')), []);
  });
});

describe('Runtime.apply: what a reload rebuilds', () => {
  it('a pool whose config is the same is left as it is; a changed one takes its new config, its members their new weights', () => {
    const text = (weight: number) => `services:\n  a: { listen: 127.0.0.10:80, mode: tcp, pool: p }\n  b: { listen: 127.0.0.10:81, mode: tcp, pool: q }\npools:\n  p: { members: [ { address: 10.0.0.1:80 } ] }\n  q: { members: [ { address: 10.0.0.2:80, weight: ${weight} } ] }\n`;
    const runtime = new Runtime();
    runtime.apply(config(text(1)));
    const [p, q] = [runtime.pools.get('p')!, runtime.pools.get('q')!];
    const [pConfig, qMember] = [p.config, q.members[0]];
    const { summary } = runtime.apply(config(text(3)));
    assert.equal(summary, 'pool q changed: member 10.0.0.2:80 changed');
    assert.equal(runtime.pools.get('p'), p);
    assert.equal(p.config, pConfig); // not rebuilt: the one it had
    assert.equal(q.members[0], qMember); // the same member (its counts and state), its new weight
    assert.equal(qMember.configWeight, 3);
    assert.equal(q.config, runtime.config!.pools.q);
  });
});
