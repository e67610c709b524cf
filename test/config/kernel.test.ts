// The keys of the kernel modes, nat and dsr: their defaults, the user-space keys they refuse,
// the kernel keys other modes refuse, the rules between a kernel service and its pool, and the
// notes on what the kernel runs differently.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelNotes } from '../../src/config/kernel-schema.ts';
import { parseConfig } from '../../src/config/load.ts';
import { issuesOf, onlyIssue, withService } from './refused.ts';

describe('nat and dsr services', () => {
  it('nat: tcp by default, idle timeout as the protocol\'s, no source-nat or flush', () => {
    const config = parseConfig(withService('{ listen: 10.0.0.100:80, mode: nat, pool: web }'), 'test.yaml', {});
    const www = config.services.www;
    assert.equal(www.mode, 'nat');
    assert.deepEqual(www.kernel, { protocol: 'tcp', interface: null, sourceNat: false, flushOnDown: false });
    assert.equal(www.timeouts.idle, 300_000);
  });

  it('nat udp with every key', () => {
    const config = parseConfig(withService('{ listen: 10.0.0.100:53, mode: nat, pool: web, protocol: udp, source-nat: true, flush-on-down: true }'), 'test.yaml', {});
    assert.deepEqual(config.services.www.kernel, { protocol: 'udp', interface: null, sourceNat: true, flushOnDown: true });
    assert.equal(config.services.www.timeouts.idle, 30_000);
  });

  it('dsr with its interface and source-ip persistence', () => {
    const config = parseConfig(withService('{ listen: 10.0.0.100:80, mode: dsr, pool: web, interface: eth1, persistence: { method: source-ip, mask: 24 } }'), 'test.yaml', {});
    assert.deepEqual(config.services.www.kernel, { protocol: 'tcp', interface: 'eth1', sourceNat: false, flushOnDown: false });
    assert.equal(config.services.www.persistence?.method, 'source-ip');
  });

  it('other modes have no kernel settings', () => {
    const config = parseConfig(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web }'), 'test.yaml', {});
    assert.equal(config.services.www.kernel, null);
    assert.equal(config.services.www.retries, 3);
    assert.equal(config.services.www.timeouts.connect, 5_000);
  });
});

describe('refused', () => {
  const cases: [string, string, string, string][] = [
    ['dsr without its interface', '{ listen: 10.0.0.100:80, mode: dsr, pool: web }', 'services.www.interface',
      'missing; a dsr service needs the interface on the members\' layer-2 segment (e.g. interface: eth1)'],
    ['source-nat on dsr', '{ listen: 10.0.0.100:80, mode: dsr, pool: web, interface: eth1, source-nat: true }', 'services.www.source-nat',
      'dsr rewrites only MAC addresses and members answer clients directly, so there is no source-nat (use mode: nat)'],
    ['an interface on nat', '{ listen: 10.0.0.100:80, mode: nat, pool: web, interface: eth1 }', 'services.www.interface',
      'interface is for dsr services; a nat service\'s packets follow the routing table'],
    ['retries on nat', '{ listen: 10.0.0.100:80, mode: nat, pool: web, retries: 2 }', 'services.www.retries',
      'the kernel forwards nat packets as they are; it does not connect to members, so there is nothing to retry'],
    ['a connect timeout on dsr', '{ listen: 10.0.0.100:80, mode: dsr, pool: web, interface: eth1, timeouts: { connect: 1s } }', 'services.www.timeouts.connect',
      'the kernel forwards dsr packets as they are; it does not connect to members; timeouts.idle is the only timeout of a dsr service'],
    ['a PROXY header on nat', '{ listen: 10.0.0.100:80, mode: nat, pool: web, proxy-protocol: v2 }', 'services.www.proxy-protocol',
      'the kernel forwards nat packets as they are; it does not add a PROXY header (members see the client\'s own address, unless source-nat is on)'],
    ['max-flows on nat', '{ listen: 10.0.0.100:80, mode: nat, pool: web, max-flows: 10 }', 'services.www.max-flows',
      'max-flows sizes the flow table of dsr services; nat connections live in conntrack (net.netfilter.nf_conntrack_max)'],
    ['port 0', '{ listen: 10.0.0.100:0, mode: nat, pool: web }', 'services.www.listen', 'a nat service needs a real port: the kernel matches packets by it'],
    ['a wildcard VIP', '{ listen: 0.0.0.0:80, mode: nat, pool: web }', 'services.www.listen',
      'a nat service forwards what is sent to its VIP: give the VIP itself, not 0.0.0.0'],
    ['cookie persistence on nat', '{ listen: 10.0.0.100:80, mode: nat, pool: web, persistence: { method: cookie } }', 'services.www.persistence.method',
      'cookie persistence reads HTTP requests: it needs an http service; this service is nat (use source-ip)'],
    ['source-nat on tcp', '{ listen: 127.0.0.1:80, mode: tcp, pool: web, source-nat: true }', 'services.www.source-nat',
      'source-nat applies to nat and dsr services only; this service is tcp'],
    ['an interface on udp', '{ listen: 127.0.0.1:53, mode: udp, pool: web, interface: eth0 }', 'services.www.interface',
      'interface applies to dsr services only; this service is udp'],
    ['a bad protocol', '{ listen: 10.0.0.100:80, mode: nat, pool: web, protocol: sctp }', 'services.www.protocol', 'expected tcp or udp, got "sctp"'],
    ['a bad interface name', '{ listen: 10.0.0.100:80, mode: dsr, pool: web, interface: "eth 1" }', 'services.www.interface',
      'expected an interface name (at most 15 letters, digits, ".", "_" or "-"), got "eth 1"'],
  ];
  for (const [name, service, path, message] of cases) {
    it(name, () => assert.deepEqual(onlyIssue(withService(service)), [path, message]));
  }

  it('dsr members on another port', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 10.0.0.100:80, mode: dsr, pool: web, interface: eth1 }', '{ members: [ { address: 10.0.0.1:8080 } ] }')), [
      'pools.web.members[0].address',
      'services.www is dsr, which rewrites only MAC addresses: its members must listen on the service\'s port 80, not 8080',
    ]);
  });

  it('members of another address family', () => {
    const issues = issuesOf(withService('{ listen: 10.0.0.100:80, mode: nat, pool: web }', '{ members: [ { address: 10.0.0.1:80 }, { address: "[2001:db8::1]:80" } ] }'));
    assert.deepEqual(issues.map((i) => [i.path, i.message]), [[
      'pools.web.members[1].address',
      '[2001:db8::1]:80 is IPv6 but services.www (nat) has the IPv4 VIP 10.0.0.100: the kernel translates within one family',
    ]]);
  });
});

describe('notes', () => {
  it('say which algorithms the kernel runs as something near, and that limits are not enforced', () => {
    const config = parseConfig(withService('{ listen: 10.0.0.100:80, mode: nat, pool: web }',
      '{ algorithm: least-connections, members: [ { address: 10.0.0.1:80, max-connections: 10 } ] }'), 'test.yaml', {});
    assert.deepEqual(kernelNotes(config), [
      'pools.web.algorithm: least-connections runs as round-robin: nftables does not count connections per member (services.www is nat or dsr)',
      'pools.web.members[0].max-connections: counted by furiwake every second, not by the kernel: a burst may pass it for that long, and there is no queue (services.www is nat or dsr)',
    ]);
  });

  it('are silent for algorithms nftables runs as they are, and for user-space services', () => {
    for (const algorithm of ['round-robin', 'weighted-round-robin', 'source-hash', 'maglev']) {
      const config = parseConfig(withService('{ listen: 10.0.0.100:80, mode: nat, pool: web }', `{ algorithm: ${algorithm}, members: [ { address: 10.0.0.1:80 } ] }`), 'test.yaml', {});
      assert.deepEqual(kernelNotes(config), []);
    }
    const tcp = parseConfig(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web }', '{ algorithm: least-time, members: [ { address: 10.0.0.1:80 } ] }'), 'test.yaml', {});
    assert.deepEqual(kernelNotes(tcp), []);
  });
});
