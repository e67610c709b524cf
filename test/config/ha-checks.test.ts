// The rules of an ha section that span other keys (refused at validate and start alike) and the
// notes validate prints for a pair that runs but may surprise.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { haNotes, haVips } from '../../src/config/ha-checks.ts';
import { parseConfig } from '../../src/config/load.ts';
import { issuesOf, onlyIssue } from './refused.ts';

const POOL = 'pools:\n  web: { members: [ { address: 10.0.0.1:80 } ] }\n';

function file(ha: string, services = '  www: { listen: 192.168.1.100:80, mode: tcp, pool: web }\n'): string {
  return `services:\n${services}${POOL}ha: ${ha}\n`;
}

describe('ha cross-checks', () => {
  it('the VIPs default to every service address that is neither a wildcard nor loopback, once each', () => {
    const services = [
      '  www: { listen: 192.168.1.100:80, mode: tcp, pool: web }',
      '  tls: { listen: 192.168.1.100:443, mode: tcp, pool: web }',
      '  any: { listen: 0.0.0.0:8080, mode: tcp, pool: web }',
      '  local: { listen: 127.0.0.1:8081, mode: tcp, pool: web }',
      '  v6: { listen: "[2001:db8::0:1]:80", mode: tcp, pool: web }',
      '',
    ].join('\n');
    const config = parseConfig(file('{ interface: eth0, router-id: 7 }', services), 'test.yaml', {});
    assert.deepEqual(haVips(config), ['192.168.1.100', '2001:db8::1']);
    const listed = parseConfig(file('{ interface: eth0, router-id: 7, vips: [ 192.168.1.100 ] }'), 'test.yaml', {});
    assert.deepEqual(haVips(listed), ['192.168.1.100']);
  });

  it('a unicast peer of another family than the VIPs is refused at its index', () => {
    const [path, message] = onlyIssue(file('{ interface: eth0, router-id: 7, peers: [ 10.0.0.2, "2001:db8::2" ] }'));
    assert.equal(path, 'ha.peers[1]');
    assert.match(message, /2001:db8::2 is IPv6 but the VIPs \(192\.168\.1\.100\) are IPv4/);
    // with VIPs of both families either peer family is heard
    const both = file('{ interface: eth0, router-id: 7, vips: [ 192.168.1.100, "2001:db8::1" ], peers: [ 10.0.0.2, "2001:db8::2" ] }');
    parseConfig(both, 'test.yaml', {});
  });

  it('an address with a zone index (%eth0) is refused as a VIP or a peer: keepalived cannot take it', () => {
    let [path, message] = onlyIssue(file('{ interface: eth0, router-id: 7, vips: [ 192.168.1.100, "fe80::1%eth0" ] }'));
    assert.equal(path, 'ha.vips[1]');
    assert.match(message, /fe80::1%eth0 has a zone index \(%eth0\): VIPs go on ha\.interface and peers are reached through it; write the address alone/);
    [path, message] = onlyIssue(file('{ interface: eth0, router-id: 7, vips: [ "2001:db8::1" ], peers: [ "fe80::2%eth0" ] }'));
    assert.equal(path, 'ha.peers[0]');
    assert.match(message, /fe80::2%eth0 has a zone index/);
    [path, message] = onlyIssue(file('{ interface: eth0, router-id: 7 }', '  www: { listen: "[fe80::1%eth0]:80", mode: tcp, pool: web }\n'));
    assert.equal(path, 'ha.vips');
    assert.match(message, /fe80::1%eth0 \(an address a service listens on\) has a zone index/);
  });

  it('no VIP at all: every service on a wildcard or loopback address and no ha.vips', () => {
    const [path, message] = onlyIssue(file('{ interface: eth0, router-id: 7 }', '  www: { listen: 0.0.0.0:80, mode: tcp, pool: web }\n  lo: { listen: "[::1]:80", mode: tcp, pool: web }\n'));
    assert.equal(path, 'ha.vips');
    assert.match(message, /no VIP to move: every service listens on a wildcard or loopback address; list the addresses the pair shares in ha\.vips/);
    // a hostname is resolved later: it may be the VIP
    parseConfig(file('{ interface: eth0, router-id: 7 }', '  www: { listen: "www.example.com:80", mode: tcp, pool: web }\n'), 'test.yaml', {});
  });

  it('ha.sync.listen on a service\'s or the admin listener is refused', () => {
    const sync = (listen: string) => `{ interface: eth0, router-id: 7, sync: { listen: "${listen}", peers: [ 10.0.0.2:7400 ], key: a-key-of-sixteen-chars } }`;
    const [path, message] = onlyIssue(file(sync('192.168.1.100:80')));
    assert.equal(path, 'ha.sync.listen');
    assert.equal(message, '192.168.1.100:80 is the listener of services.www (192.168.1.100:80): the replication link needs a port of its own');
    // a wildcard takes the port on the service's address too (and names every node alike)
    assert.deepEqual(issuesOf(file(sync('0.0.0.0:80'))).map((i) => i.path), ['ha.sync.listen', 'ha.sync.listen']);
    // a udp service does not take the tcp port
    parseConfig(file(sync('192.168.1.100:53'), '  dns: { listen: 192.168.1.100:53, mode: udp, pool: web }\n'), 'test.yaml', {});
    parseConfig(file(sync('192.168.1.100:53'), '  dns: { listen: 192.168.1.100:53, mode: nat, protocol: udp, pool: web }\n'), 'test.yaml', {});
    assert.equal(onlyIssue(file(sync('192.168.1.100:80'), '  www: { listen: 192.168.1.100:80, mode: nat, pool: web }\n'))[0], 'ha.sync.listen');
    const admin = `admin: { listen: 10.0.0.1:9090, token: a-token-of-twenty-chars }\n${file(sync('10.0.0.1:9090'))}`;
    const issues = issuesOf(admin);
    assert.deepEqual(issues.map((i) => i.path), ['ha.sync.listen']);
    assert.match(issues[0].message, /is the admin listener/);
    parseConfig(file(sync('10.0.0.1:7400')), 'test.yaml', {});
  });

  it('ha.sync.listen names this node: a wildcard, or a peer that is this node, is refused', () => {
    const [path, message] = onlyIssue(file('{ interface: eth0, router-id: 7, sync: { listen: "0.0.0.0:7400", peers: [ 10.0.0.2:7400 ], key: a-key-of-sixteen-chars } }'));
    assert.equal(path, 'ha.sync.listen');
    assert.match(message, /listens on every address: give this node's own address/);
    const [selfPath, selfMessage] = onlyIssue(file('{ interface: eth0, router-id: 7, sync: { listen: 10.0.0.1:7400, peers: [ 10.0.0.2:7400, 10.0.0.1:7400 ], key: a-key-of-sixteen-chars } }'));
    assert.equal(selfPath, 'ha.sync.peers[1]');
    assert.match(selfMessage, /is this node's own sync\.listen/);
  });

  it('interface and router-id come together; without both the section only replicates state', () => {
    const [path, message] = onlyIssue(file('{ interface: eth0, sync: { listen: 10.0.0.1:7400, peers: [ 10.0.0.2:7400 ], key: a-key-of-sixteen-chars } }'));
    assert.equal(path, 'ha.router-id');
    assert.match(message, /VRRP needs both interface and router-id/);
    assert.match(onlyIssue(file('{ priority: 100 }'))[1], /needs interface and router-id .* or at least a sync link/);
    const config = parseConfig(file('{ sync: { listen: 10.0.0.1:7400, peers: [ 10.0.0.2:7400 ], key: a-key-of-sixteen-chars } }'), 'test.yaml', {});
    assert.equal(config.ha?.vrrp, false);
    assert.equal(config.ha?.conntrackSync !== undefined, true);
    assert.deepEqual(haNotes(config), ['ha: no interface and router-id: furiwake runs no VRRP and moves no address; only the sync link runs (something else must move the VIPs)']);
  });
});

describe('ha notes', () => {
  it('a sub-second advert needs VRRPv3 on the peers', () => {
    const fast = parseConfig(file('{ interface: eth0, router-id: 7, advert: 100ms }'), 'test.yaml', {});
    assert.deepEqual(haNotes(fast), ['ha.advert: 100ms needs VRRP version 3 on every node of the pair (version 2 counts whole seconds): a peer that is not furiwake must run keepalived with vrrp_version 3 and the same interval']);
    assert.deepEqual(haNotes(parseConfig(file('{ interface: eth0, router-id: 7, advert: 1s }'), 'test.yaml', {})), []);
  });

  it('router-id 51, the value of keepalived\'s sample, is a hint to check the segment', () => {
    const notes = haNotes(parseConfig(file('{ interface: eth1, router-id: 51 }'), 'test.yaml', {}));
    assert.equal(notes.length, 1);
    assert.match(notes[0], /^ha\.router-id: 51 is the value of keepalived's sample config; every pair on the segment of eth1 needs its own.*tcpdump -i eth1 vrrp/);
  });

  it('a service outside the listed VIPs does not move', () => {
    const services = '  www: { listen: 192.168.1.100:80, mode: tcp, pool: web }\n  local: { listen: 10.0.0.1:80, mode: tcp, pool: web }\n  any: { listen: 0.0.0.0:81, mode: tcp, pool: web }\n';
    const notes = haNotes(parseConfig(file('{ interface: eth0, router-id: 7, vips: [ 192.168.1.100 ] }', services), 'test.yaml', {}));
    assert.deepEqual(notes, ['services.local.listen: 10.0.0.1 is not one of ha.vips: it does not move to the peer at failover']);
  });

  it('no ha section, no notes', () => {
    assert.deepEqual(haNotes(parseConfig(`services:\n  www: { listen: 127.0.0.1:80, mode: tcp, pool: web }\n${POOL}`, 'test.yaml', {})), []);
  });
});
