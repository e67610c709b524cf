import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VrrpRoles } from '../../src/ha/vrrp-role.ts';

describe('vrrp role', () => {
  it('is master once every instance is, and records each change of the node role once', () => {
    const roles = new VrrpRoles();
    assert.equal(roles.role, 'stopped');
    assert.deepEqual(roles.reset(['furiwake_4', 'furiwake_6'], 'init', 'keepalived started', 1), { from: 'stopped', to: 'init', at: 1, reason: 'keepalived started' });
    const why = (from: string, to: string) => `${from}->${to}`;
    assert.deepEqual(roles.report('furiwake_4', 'master', why, 2), null);
    assert.equal(roles.role, 'init');
    assert.deepEqual(roles.report('furiwake_6', 'master', why, 3), { from: 'init', to: 'master', at: 3, reason: 'init->master' });
    assert.equal(roles.report('VI_other', 'fault', why, 4), null, 'not ours');
    assert.deepEqual(roles.report('furiwake_6', 'fault', why, 5)?.to, 'fault');
    assert.deepEqual(roles.reset([], 'stopped', 'keepalived exited', 6)?.to, 'stopped');
    assert.deepEqual(roles.transitions.map((t) => t.to), ['init', 'master', 'fault', 'stopped']);
    assert.equal(roles.counts.get('master'), 1);
    assert.equal(roles.counts.get('backup'), 0);
  });
});

describe('vrrp role after a reload', () => {
  it('follows a family that gains VIPs from init, and forgets one that loses them', () => {
    const roles = new VrrpRoles();
    assert.equal(roles.track(['furiwake_4'], 'reload'), null, 'keepalived not running: nothing to follow');
    roles.reset(['furiwake_4'], 'init', 'started', 1);
    roles.report('furiwake_4', 'master', () => 'won', 2);
    assert.deepEqual(roles.track(['furiwake_4', 'furiwake_6'], 'reload', 3)?.to, 'init');
    assert.deepEqual(roles.report('furiwake_6', 'master', () => 'won', 4)?.to, 'master');
    assert.equal(roles.track(['furiwake_6'], 'reload', 5), null);
    assert.equal(roles.report('furiwake_4', 'fault', () => 'x', 6), null, 'no longer ours');
    assert.equal(roles.role, 'master');
  });
});
