// The pool keys member-protocol and http2: defaults, values, and mistakes named by their path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { onlyIssue, withPool } from './refused.ts';

const MEMBERS = 'members: [ { address: 10.0.0.1:80 } ]';

function poolOf(rest: string) {
  return parseConfig(withPool(`{ ${MEMBERS}${rest} }`), 'test.yaml', {}).pools.web;
}

describe('member-protocol and http2 (pool)', () => {
  it('defaults to http1, with the HTTP/2 connection defaults', () => {
    const p = poolOf('');
    assert.equal(p.memberProtocol, 'http1');
    assert.deepEqual(p.http2, { maxConnectionsPerMember: 4, pingInterval: 30_000, pingTimeout: 10_000 });
  });

  it('takes each key', () => {
    const p = poolOf(', member-protocol: h2c, http2: { max-connections-per-member: 1, ping-interval: 0s, ping-timeout: 2s }');
    assert.equal(p.memberProtocol, 'h2c');
    assert.deepEqual(p.http2, { maxConnectionsPerMember: 1, pingInterval: 0, pingTimeout: 2_000 });
    assert.equal(poolOf(', member-protocol: h2').memberProtocol, 'h2');
  });

  it('names the path of a mistake', () => {
    const pool = (rest: string) => withPool(`{ ${MEMBERS}, ${rest} }`);
    assert.deepEqual(onlyIssue(pool('member-protocol: http2')), ['pools.web.member-protocol', 'expected http1, h2 or h2c, got "http2"; write h2 (TLS) or h2c (clear text)']);
    assert.deepEqual(onlyIssue(pool('http2: { max-connections-per-member: 0 }')), ['pools.web.http2.max-connections-per-member', 'expected a whole number from 1 to 1000, got 0']);
    assert.equal(onlyIssue(pool('http2: { ping-timeout: 0s }'))[0], 'pools.web.http2.ping-timeout');
  });
});
