// Which interface each VIP goes on: ha.interface, unless the VIP is in the network of another
// interface (the members' gateway behind a nat pair), whose neighbours must hear it announced.

import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, it } from 'node:test';
import { vipDevices } from '../../src/ha/vip-device.ts';

const v4 = (address: string, prefix: number): NetworkInterfaceInfo =>
  ({ address, netmask: '', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: `${address}/${prefix}` });
const v6 = (address: string, prefix: number): NetworkInterfaceInfo =>
  ({ address, netmask: '', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: `${address}/${prefix}`, scopeid: 0 });

describe('vipDevices', () => {
  const host = {
    lo: [v4('127.0.0.1', 8)],
    eth0: [v4('192.0.2.2', 24), v6('2001:db8:1::2', 64)],
    eth1: [v4('10.0.2.2', 24), v6('2001:db8:2::2', 64)],
  };

  it('a VIP of ha.interface\'s network stays there; one of another interface\'s network goes there, IPv4 and IPv6', () => {
    const devices = vipDevices(['192.0.2.10', '10.0.2.254', '2001:db8:1::10', '2001:db8:2::254'], 'eth0', host);
    assert.deepEqual([...devices], [['192.0.2.10', 'eth0'], ['10.0.2.254', 'eth1'], ['2001:db8:1::10', 'eth0'], ['2001:db8:2::254', 'eth1']]);
  });

  it('a VIP in no network of this host goes on ha.interface (validate warns of it)', () => {
    assert.deepEqual([...vipDevices(['198.51.100.7'], 'eth0', host)], [['198.51.100.7', 'eth0']]);
  });

  it('on the master, a VIP held as /32 on another interface is not that interface\'s network', () => {
    const master = { ...host, eth1: [...host.eth1, v4('198.51.100.7', 32)] };
    assert.deepEqual([...vipDevices(['198.51.100.7'], 'eth0', master)], [['198.51.100.7', 'eth0']]);
    // a VIP held there as it goes: still that network's
    const held = { ...host, eth1: [...host.eth1, v4('10.0.2.254', 32)] };
    assert.deepEqual([...vipDevices(['10.0.2.254'], 'eth0', held)], [['10.0.2.254', 'eth1']]);
  });

  it('ha.interface wins when two interfaces share the network, and an interface without addresses is skipped', () => {
    const both = { eth1: [v4('192.0.2.3', 24)], eth0: [v4('192.0.2.2', 24)], eth2: undefined };
    assert.deepEqual([...vipDevices(['192.0.2.10'], 'eth0', both)], [['192.0.2.10', 'eth0']]);
  });
});
