import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAgentReply } from '../../src/health/agent-reply.ts';
import { combine } from '../../src/health/member-health.ts';

describe('health rule', () => {
  it('all: up when every monitor is up, down when one is down', () => {
    assert.equal(combine({ kind: 'all' }, ['up', 'up']), 'up');
    assert.equal(combine({ kind: 'all' }, ['up', 'down']), 'down');
    assert.equal(combine({ kind: 'all' }, ['up', 'checking']), 'checking');
    assert.equal(combine({ kind: 'all' }, ['down', 'checking']), 'down');
  });

  it('any: up when one monitor is up, down when all are down', () => {
    assert.equal(combine({ kind: 'any' }, ['down', 'up']), 'up');
    assert.equal(combine({ kind: 'any' }, ['down', 'down']), 'down');
    assert.equal(combine({ kind: 'any' }, ['down', 'checking']), 'checking');
  });

  it('at-least N: up with N up, down once N can no longer be reached', () => {
    const rule = { kind: 'at-least', n: 2 } as const;
    assert.equal(combine(rule, ['up', 'up', 'down']), 'up');
    assert.equal(combine(rule, ['up', 'down', 'down']), 'down');
    assert.equal(combine(rule, ['up', 'checking', 'down']), 'checking');
  });
});

describe('agent reply', () => {
  it('reads every word HAProxy agents send, combined on one line', () => {
    assert.deepEqual(parseAgentReply('drain 75% maxconn:100 # rolling restart\n'), {
      admin: 'drain', percent: 75, maxConnections: 100, description: 'rolling restart', unknown: [],
    });
    assert.deepEqual(parseAgentReply('up,ready'), { admin: 'ready', operational: 'up', unknown: [] });
    assert.deepEqual(parseAgentReply('MAINT'), { admin: 'maint', unknown: [] });
    assert.deepEqual(parseAgentReply('fail'), { operational: 'down', unknown: [] });
    assert.deepEqual(parseAgentReply('stopped'), { operational: 'down', unknown: [] });
    assert.deepEqual(parseAgentReply('50% bogus'), { percent: 50, unknown: ['bogus'] });
  });
});
