// The pool key passive-health: defaults (on), values, and mistakes named by their path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { onlyIssue, withPool } from './refused.ts';

function passiveOf(pool: string) {
  return parseConfig(withPool(pool), 'test.yaml', {}).pools.web.passiveHealth;
}

describe('passive-health', () => {
  it('is on with conservative defaults when absent or empty', () => {
    const defaults = { failures: 5, ejection: 30_000, maxEjection: 300_000, maxEjectedPercent: 50 };
    assert.deepEqual(passiveOf('{ members: [ { address: 10.0.0.1:80 } ] }'), defaults);
    assert.deepEqual(passiveOf('{ members: [ { address: 10.0.0.1:80 } ], passive-health: }'), defaults);
    assert.deepEqual(passiveOf('{ members: [ { address: 10.0.0.1:80 } ], passive-health: {} }'), defaults);
  });

  it('takes each key', () => {
    assert.deepEqual(
      passiveOf('{ members: [ { address: 10.0.0.1:80 } ], passive-health: { failures: 3, ejection: 10s, max-ejection: 2m, max-ejected-percent: 100 } }'),
      { failures: 3, ejection: 10_000, maxEjection: 120_000, maxEjectedPercent: 100 },
    );
    assert.equal(passiveOf('{ members: [ { address: 10.0.0.1:80 } ], passive-health: { failures: 0 } }').failures, 0);
  });

  it('names the path of a mistake', () => {
    const pool = (ph: string) => withPool(`{ members: [ { address: 10.0.0.1:80 } ], passive-health: ${ph} }`);
    assert.deepEqual(onlyIssue(pool('{ failures: -1 }')), ['pools.web.passive-health.failures', 'expected a whole number from 0 to 1000, got -1']);
    assert.deepEqual(onlyIssue(pool('{ max-ejected-percent: 101 }')), ['pools.web.passive-health.max-ejected-percent', 'expected a whole number from 0 to 100, got 101']);
    assert.equal(onlyIssue(pool('{ ejection: 0s }'))[0], 'pools.web.passive-health.ejection');
    assert.deepEqual(onlyIssue(pool('{ failure: 3 }')), ['pools.web.passive-health.failure', 'unknown key "failure"; did you mean "failures"?']);
    assert.equal(onlyIssue(pool('on'))[0], 'pools.web.passive-health');
  });
});
