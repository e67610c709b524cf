import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { substituteEnv } from '../../src/config/env.ts';
import { parseConfig } from '../../src/config/load.ts';
import { onlyIssue, withPool } from './refused.ts';

describe('substituteEnv', () => {
  it('replaces ${VAR} in strings anywhere in the document, and nothing else', () => {
    const document = { a: '${HOST}:${PORT}', list: [{ b: 'x-${HOST}' }, 3, true, null], '${KEY}': 'kept' };
    const { value, issues } = substituteEnv(document, { HOST: '10.0.0.1', PORT: '80', KEY: 'no' });
    assert.deepEqual(value, { a: '10.0.0.1:80', list: [{ b: 'x-10.0.0.1' }, 3, true, null], '${KEY}': 'kept' });
    assert.deepEqual(issues, []);
  });

  it('reads $${ as a literal ${ and leaves a lone $ alone', () => {
    const { value } = substituteEnv({ a: 'cost $5, $${NOT_A_VAR}, $$x' }, {});
    assert.deepEqual(value, { a: 'cost $5, ${NOT_A_VAR}, $$x' });
  });

  it('does not expand a value again', () => {
    const { value } = substituteEnv({ a: '${A}' }, { A: '${B}', B: 'no' });
    assert.deepEqual(value, { a: '${B}' });
  });

  it('substitutes an empty value (set but empty is set)', () => {
    assert.deepEqual(substituteEnv({ a: 'x${E}y' }, { E: '' }).value, { a: 'xy' });
  });

  it('reports each missing variable with the path of its value', () => {
    const { issues } = substituteEnv({ pools: { web: { members: [{ address: '${H}:${P}' }] } } }, {});
    assert.deepEqual(issues, [
      { path: ['pools', 'web', 'members', 0, 'address'], message: 'environment variable H is not set' },
      { path: ['pools', 'web', 'members', 0, 'address'], message: 'environment variable P is not set' },
    ]);
  });

  it('reports a ${ left open and a name that is not one', () => {
    assert.deepEqual(substituteEnv({ a: 'x${OPEN' }, {}).issues, [
      { path: ['a'], message: 'unterminated ${ in "x${OPEN" (write $${ for a literal ${)' },
    ]);
    assert.deepEqual(substituteEnv({ a: '${A:-default}' }, {}).issues, [
      { path: ['a'], message: 'expected a variable name of letters, digits and "_" in ${...}, got "${A:-default}"' },
    ]);
  });
});

describe('${VAR} in a config file', () => {
  const text = `
services:
  www: { listen: "\${LISTEN}", mode: tcp, pool: web, retries: "\${RETRIES}" }
pools:
  web:
    members:
      - address: \${BACKEND_HOST}:\${BACKEND_PORT}
        weight: \${W}
        backup: \${BACKUP}
    queue: { timeout: "\${QT}" }
`;
  const env = { LISTEN: '0.0.0.0:8080', RETRIES: '1', BACKEND_HOST: '10.0.0.7', BACKEND_PORT: '8080', W: '3', BACKUP: 'true', QT: '750ms' };

  it('fills strings, and number, boolean and duration keys from their text', () => {
    const config = parseConfig(text, 'env.yaml', env);
    assert.deepEqual(config.services.www.listen, { host: '0.0.0.0', port: 8080, ip: '0.0.0.0' });
    assert.equal(config.services.www.retries, 1);
    assert.deepEqual(config.pools.web.members[0], {
      address: { host: '10.0.0.7', port: 8080, ip: '10.0.0.7' },
      id: '10.0.0.7:8080',
      weight: 3,
      maxConnections: 0,
      backup: true,
      health: null,
    });
    assert.equal(config.pools.web.queue.timeout, 750);
  });

  it('checks a substituted value like a written one', () => {
    const issues = (() => {
      try {
        parseConfig(text, 'env.yaml', { ...env, W: 'heavy' });
      } catch (error) {
        return (error as { issues: unknown[] }).issues;
      }
      return [];
    })();
    assert.deepEqual(issues, [
      { file: 'env.yaml', path: 'pools.web.members[0].weight', message: 'expected a whole number from 0 to 256, got "heavy"', line: 8 },
    ]);
  });

  it('reports a missing variable once, not again as a bad value', () => {
    assert.deepEqual(onlyIssue(withPool('{ members: [ { address: "${BACKEND}:80" } ] }')), [
      'pools.web.members[0].address',
      'environment variable BACKEND is not set',
    ]);
  });

  it('reads process.env when no env is given', () => {
    process.env.FURIWAKE_TEST_WEIGHT = '9';
    try {
      const config = parseConfig(withPool('{ members: [ { address: 10.0.0.1:80, weight: "${FURIWAKE_TEST_WEIGHT}" } ] }'), 'env.yaml');
      assert.equal(config.pools.web.members[0].weight, 9);
    } finally {
      delete process.env.FURIWAKE_TEST_WEIGHT;
    }
  });
});
