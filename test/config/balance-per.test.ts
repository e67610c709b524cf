// `balance-per`: what a udp service balances. Refused on other modes and with other words.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sameListener } from '../../src/config/diff.ts';
import { parseConfig } from '../../src/config/load.ts';
import { service } from '../helpers/config.ts';
import { onlyIssue, withService } from './refused.ts';

describe('balance-per', () => {
  it('is flow by default, and sip-dialog or radius-request when asked', () => {
    assert.equal(parseConfig(withService('{ listen: 127.0.0.1:1812, mode: udp, pool: web }'), 'test.yaml', {}).services.www.balancePer, 'flow');
    const text = withService('{ listen: 127.0.0.1:1812, mode: udp, pool: web, balance-per: radius-request }');
    assert.equal(parseConfig(text, 'test.yaml', {}).services.www.balancePer, 'radius-request');
    const sip = withService('{ listen: 127.0.0.1:5060, mode: udp, pool: web, balance-per: sip-dialog }');
    assert.equal(parseConfig(sip, 'test.yaml', {}).services.www.balancePer, 'sip-dialog');
  });

  it('is refused on a service that is not udp', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, balance-per: flow }')), [
      'services.www.balance-per',
      'balance-per chooses what a udp service balances (flows, SIP dialogs or single RADIUS requests); this service is tcp',
    ]);
  });

  it('refuses other words', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:5060, mode: udp, pool: web, balance-per: request }')), [
      'services.www.balance-per',
      'expected flow, sip-dialog or radius-request, got "request"',
    ]);
  });

  it('rebinds the socket on a reload that changes it (the flow table is keyed by what it balances)', () => {
    assert.equal(sameListener(service('udp', 'p'), service('udp', 'p', { balancePer: 'radius-request' })), false);
    assert.equal(sameListener(service('udp', 'p', { balancePer: 'sip-dialog' }), service('udp', 'p', { balancePer: 'sip-dialog', maxFlows: 10 })), true);
  });
});
