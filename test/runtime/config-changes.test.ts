// What a reload says it changed (the log's summary, the answer of POST /api/v1/reload and
// `furiwake ctl reload`): a changed ha section is named with the keys that changed, never a value.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { describeChanges } from '../../src/runtime/config-changes.ts';

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
