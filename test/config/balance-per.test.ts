// `balance-per`: what a udp service balances. Refused on other modes, and sip-dialog is named as
// not supported yet rather than unknown.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { onlyIssue, withService } from './refused.ts';

describe('balance-per', () => {
  it('is flow by default and radius-request when asked', () => {
    assert.equal(parseConfig(withService('{ listen: 127.0.0.1:1812, mode: udp, pool: web }'), 'test.yaml', {}).services.www.balancePer, 'flow');
    const text = withService('{ listen: 127.0.0.1:1812, mode: udp, pool: web, balance-per: radius-request }');
    assert.equal(parseConfig(text, 'test.yaml', {}).services.www.balancePer, 'radius-request');
  });

  it('is refused on a service that is not udp', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, balance-per: flow }')), [
      'services.www.balance-per',
      'balance-per chooses what a udp service balances (flows or single RADIUS requests); this service is tcp',
    ]);
  });

  it('names sip-dialog as not supported yet, and refuses other words', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:5060, mode: udp, pool: web, balance-per: sip-dialog }')), [
      'services.www.balance-per',
      '"sip-dialog" is not supported yet; expected flow or radius-request',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:5060, mode: udp, pool: web, balance-per: request }')), [
      'services.www.balance-per',
      'expected flow or radius-request, got "request"',
    ]);
  });
});
