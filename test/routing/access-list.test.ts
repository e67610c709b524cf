// The compiled access list (src/routing/access-list.ts): deny wins over allow, an empty allow lets
// in whoever is not denied, IPv4 clients seen as ::ffff:a.b.c.d are IPv4, an address that cannot
// be read is let in only without an allow list. Then random lists and addresses against a plain
// reading of the rules with ipaddr.js (written apart from the Set-per-prefix lookup it checks).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ipaddr from 'ipaddr.js';
import { AccessList } from '../../src/routing/access-list.ts';
import { Fuzzer, fuzz, fuzzCount } from '../helpers/fuzz.ts';

describe('access list', () => {
  it('deny wins over allow; no allow: everyone not denied', () => {
    const list = new AccessList({ allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.9.0.0/16', '2001:db8:bad::/48'] });
    assert.equal(list.allows('10.1.2.3'), true);
    assert.equal(list.allows('10.9.2.3'), false);
    assert.equal(list.allows('11.0.0.1'), false);
    assert.equal(list.allows('2001:db8::1'), true);
    assert.equal(list.allows('2001:db8:bad::1'), false);
    assert.equal(list.allows('2001:db9::1'), false);
    const denyOnly = new AccessList({ allow: [], deny: ['192.0.2.7/32'] });
    assert.equal(denyOnly.allows('192.0.2.7'), false);
    assert.equal(denyOnly.allows('192.0.2.8'), true);
    assert.equal(denyOnly.allows('::1'), true);
  });

  it('an IPv4 client seen through a dual-stack socket is matched as IPv4', () => {
    const list = new AccessList({ allow: ['127.0.0.0/8'], deny: ['127.0.0.2/32'] });
    assert.equal(list.allows('::ffff:127.0.0.1'), true);
    assert.equal(list.allows('::ffff:127.0.0.2'), false);
    assert.equal(list.allows('::1'), false);
    // a network written as IPv4-mapped IPv6 covers the same clients
    const mapped = new AccessList({ allow: [], deny: ['::ffff:a00:0/104'] });
    assert.equal(mapped.allows('10.1.1.1'), false);
    assert.equal(mapped.allows('::ffff:10.1.1.1'), false);
    assert.equal(mapped.allows('11.1.1.1'), true);
    // /0 of each family
    assert.equal(new AccessList({ allow: [], deny: ['0.0.0.0/0'] }).allows('203.0.113.9'), false);
    assert.equal(new AccessList({ allow: [], deny: ['0.0.0.0/0'] }).allows('2001:db8::1'), true);
    assert.equal(new AccessList({ allow: [], deny: ['::/0'] }).allows('2001:db8::1'), false);
  });

  it('an address that cannot be read: let in only without an allow list', () => {
    assert.equal(new AccessList({ allow: [], deny: ['10.0.0.0/8'] }).allows(''), true);
    assert.equal(new AccessList({ allow: ['10.0.0.0/8'], deny: [] }).allows(''), false);
    assert.equal(new AccessList({ allow: ['10.0.0.0/8'], deny: [] }).allows('10.0.0.1:80'), false);
  });

  it('answers as a plain reading of the rules, for random lists and addresses', () => {
    const v4 = (f: Fuzzer): string => [0, 0, 0, 0].map(() => String(f.pick([0, 1, 10, 127, 128, 192, 255, f.int(256)]))).join('.');
    const v6 = (f: Fuzzer): string => `2001:db8:${f.pick(['0', '1', 'ff', (f.int(65536)).toString(16)])}::${f.int(65536).toString(16)}`;
    const network = (f: Fuzzer): string => {
      if (f.random() < 0.6) {
        const bits = f.pick([0, 1, 7, 8, 15, 16, 23, 24, 31, 32, f.int(33)]);
        return ipaddr.IPv4.networkAddressFromCIDR(`${v4(f)}/${bits}`).toString() + `/${bits}`;
      }
      const bits = f.pick([0, 32, 33, 48, 64, 127, 128, f.int(129)]);
      return ipaddr.IPv6.networkAddressFromCIDR(`${v6(f)}/${bits}`).toString() + `/${bits}`;
    };
    const reference = (allow: string[], deny: string[], client: string): boolean => {
      let address: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(client);
      if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) address = (address as ipaddr.IPv6).toIPv4Address();
      const inAny = (list: string[]): boolean => list.some((cidr) => {
        const [net, bits] = ipaddr.parseCIDR(cidr);
        return net.kind() === address.kind() && address.match(net, bits);
      });
      if (inAny(deny)) return false;
      return allow.length === 0 || inAny(allow);
    };
    let compared = 0;
    fuzz(0xacc, fuzzCount(1_000), (f) => Buffer.from(String(f.int(2 ** 31))), (seed) => {
      const f = new Fuzzer(Number(seed.toString()));
      const allow = Array.from({ length: f.int(4) }, () => network(f));
      const deny = Array.from({ length: f.int(4) }, () => network(f));
      const list = new AccessList({ allow, deny });
      for (let i = 0; i < 20; i++) {
        const client = f.random() < 0.5 ? v4(f) : f.random() < 0.5 ? `::ffff:${v4(f)}` : v6(f);
        assert.equal(list.allows(client), reference(allow, deny, client), `allow ${allow} deny ${deny} client ${client}`);
        compared++;
      }
    });
    assert.ok(compared >= fuzzCount(1_000) * 20);
  });
});
