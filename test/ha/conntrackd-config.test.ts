// conntrackd's config as text, the addresses it syncs and the peer it sends to; and this node's
// own address picked from iproute2's JSON (outside bytes: fuzzed).

import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import { conntrackPeer, renderConntrackdConfig, syncedAddresses } from '../../src/ha/conntrackd-config.ts';
import { pickInterfaceAddress } from '../../src/ha/interface-address.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { HaSyncConfig } from '../../src/config/ha-types.ts';
import { fuzz, fuzzCount } from '../helpers/fuzz.ts';

const base = { stateDir: '/run/furiwake/ct', interface: 'eth0', port: 3780, local: '10.0.0.1', peer: '10.0.0.2', addresses: ['192.168.1.100', '192.168.1.11', '2001:db8:0::1'] };

describe('conntrackd config', () => {
  test('FTFW over UDP unicast to the peer, on the interface and port, filtered to the services\' addresses', () => {
    assert.equal(renderConntrackdConfig(base), `# written by furiwake for kernel connection sync; furiwake rewrites it at every start
Sync {
	Mode FTFW {
		DisableExternalCache off
	}
	UDP {
		IPv4_address 10.0.0.1
		IPv4_Destination_Address 10.0.0.2
		Port 3780
		Interface eth0
		SndSocketBuffer 1249280
		RcvSocketBuffer 1249280
		Checksum on
	}
}
General {
	Systemd off
	LogFile off
	Syslog off
	HashSize 32768
	HashLimit 131072
	LockFile /run/furiwake/ct/conntrackd.lock
	UNIX {
		Path /run/furiwake/ct/conntrackd.ctl
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	NetlinkOverrunResync on
	Filter From Userspace {
		Protocol Accept {
			TCP
			UDP
		}
		Address Accept {
			IPv4_address 192.168.1.100
			IPv4_address 192.168.1.11
			IPv6_address 2001:db8::1
		}
		State Accept {
			ESTABLISHED CLOSED TIME_WAIT CLOSE_WAIT for TCP
		}
	}
}
`);
  });

  test('IPv6 peer: the IPv6 keys', () => {
    const text = renderConntrackdConfig({ ...base, local: 'fd00::1', peer: 'fd00::2' });
    assert.match(text, /\tUDP \{\n\t\tIPv6_address fd00::1\n\t\tIPv6_Destination_Address fd00::2\n\t\tPort 3780\n/);
  });

  test('no peer address: IPv4 multicast, the port as the group number', () => {
    const text = renderConntrackdConfig({ ...base, peer: null });
    assert.match(text, /\tMulticast \{\n\t\tIPv4_address 225\.0\.0\.50\n\t\tGroup 3780\n\t\tIPv4_interface 10\.0\.0\.1\n\t\tInterface eth0\n/);
    assert.doesNotMatch(text, /UDP \{/);
  });

  test('refuses what would not be a valid config, rather than writing it', () => {
    assert.throws(() => renderConntrackdConfig({ ...base, peer: 'fd00::2' }), /not an IPv4 address/);
    assert.throws(() => renderConntrackdConfig({ ...base, local: 'fd00::1', peer: null }), /IPv4 multicast/);
    assert.throws(() => renderConntrackdConfig({ ...base, addresses: ['10.0.0.1\n}'] }), /not an IP address/);
    assert.throws(() => renderConntrackdConfig({ ...base, interface: 'eth0 }' }), /not an interface name/);
    assert.throws(() => renderConntrackdConfig({ ...base, stateDir: '/tmp/a b' }), /state dir/);
    assert.throws(() => renderConntrackdConfig({ ...base, stateDir: `/${'x'.repeat(100)}` }), /state dir/);
    assert.throws(() => renderConntrackdConfig({ ...base, port: 0 }), /not a port/);
  });
});

describe('what is synced, and to whom', () => {
  const pools = 'pools:\n  web: { members: [ { address: 10.1.0.11:80 } ] }\n  web6: { members: [ { address: "[fd01::12]:80" } ] }\n' +
    '  fast: { members: [ { address: 10.1.0.31:443 } ] }\n  app: { members: [ { address: 10.1.0.21:8080 } ] }\n';

  test('the VIPs and members of nat and dsr services only; none without them', () => {
    const config = parseConfig('services:\n  www: { listen: 192.168.1.100:80, mode: nat, pool: web }\n' +
      '  www6: { listen: "[fd00:0::100]:80", mode: nat, pool: web6 }\n  proxy: { listen: 192.168.1.101:80, mode: tcp, pool: app }\n' +
      '  fast: { listen: 192.168.1.100:443, mode: dsr, pool: fast, interface: eth1 }\n' + pools, 'test.yaml');
    assert.deepEqual(syncedAddresses(config), ['192.168.1.100', '10.1.0.11', 'fd00::100', 'fd01::12', '10.1.0.31']);
    const none = parseConfig('services:\n  proxy: { listen: 192.168.1.101:80, mode: tcp, pool: app }\n' + pools, 'test.yaml');
    assert.deepEqual(syncedAddresses(none), []);
  });

  test('the peer: the first VRRP peer, else the first sync peer\'s host, else none (multicast)', () => {
    assert.equal(conntrackPeer({ peers: ['10.0.0.2', '10.0.0.3'], sync: null }), '10.0.0.2');
    const sync = (host: string, ip?: string): HaSyncConfig => ({ listen: { host: '0.0.0.0', port: 7400 }, peers: [{ host, ip, port: 7400 }], key: 'k'.repeat(16), tls: null });
    assert.equal(conntrackPeer({ peers: [], sync: sync('fd00:0::2') }), 'fd00::2');
    assert.equal(conntrackPeer({ peers: [], sync: sync('peer.example') }), null);
    assert.equal(conntrackPeer({ peers: [], sync: sync('peer.example', '10.0.0.9') }), '10.0.0.9');
    assert.equal(conntrackPeer({ peers: [], sync: null }), null);
  });
});

describe('this node\'s address on the interface', () => {
  const json = JSON.stringify([{ ifname: 'eth0', addr_info: [
    { family: 'inet', local: '192.168.1.100', prefixlen: 32, scope: 'global' },
    { family: 'inet', local: '10.9.0.5', prefixlen: 24, scope: 'global' },
    { family: 'inet', local: '10.0.0.1', prefixlen: 24, scope: 'global' },
    { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    { family: 'inet6', local: 'fd00:0::1', prefixlen: 64, scope: 'global' },
  ] }]);

  test('not a VIP, on the peer\'s network when one is, of the peer\'s family', () => {
    assert.equal(pickInterfaceAddress(json, 4, ['192.168.1.100'], '10.0.0.2'), '10.0.0.1');
    assert.equal(pickInterfaceAddress(json, 4, ['192.168.1.100'], '172.16.0.2'), '10.9.0.5');
    assert.equal(pickInterfaceAddress(json, 4, ['192.168.1.100'], null), '10.9.0.5');
    assert.equal(pickInterfaceAddress(json, 6, [], 'fd00::2'), 'fd00::1');
    assert.equal(pickInterfaceAddress(json, 4, ['192.168.1.100', '10.9.0.5', '10.0.0.1'], null), null);
    assert.equal(pickInterfaceAddress('[]', 4, [], null), null);
    assert.equal(pickInterfaceAddress('not json', 4, [], null), null);
  });

  test('fuzz: any text gives an address of the asked family that is not excluded, or null; never throws', () => {
    const dictionary = ['"local"', '"prefixlen"', '"scope"', '"global"', '"addr_info"', '10.0.0.1', 'fd00::1', '33', '-1', '1.5', 'null', '[', ']', '{', '}', ',', ':'];
    const seed = Buffer.from(json);
    fuzz(0xc7d1, fuzzCount(20_000), (f) => f.mutate(seed, dictionary), (input) => {
      for (const family of [4, 6] as const) {
        const picked = pickInterfaceAddress(input.toString(), family, ['192.168.1.100'], '10.0.0.2');
        if (picked === null) continue;
        assert.equal(isIP(picked), family);
        assert.notEqual(picked, '192.168.1.100');
      }
    });
  });
});
