// Route client networks read families as access lists do: an IPv4 client (also seen as
// ::ffff:a.b.c.d) is in IPv4 networks only, so ::/0 is every IPv6 client and no IPv4 one.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAddress } from '../../src/ip-text.ts';
import { inNetworks, parseNetwork } from '../../src/routing/networks.ts';
import { AccessList } from '../../src/routing/access-list.ts';

function bytes(address: string): Uint8Array {
  const b = new Uint8Array(16);
  assert.ok(readAddress(address, b, 0), address);
  return b;
}

describe('route client networks', () => {
  const cases: [string, string, boolean][] = [
    ['::/0', '10.1.2.3', false],
    ['::/0', '::ffff:10.1.2.3', false],
    ['::/0', '2001:db8::1', true],
    ['0.0.0.0/0', '10.1.2.3', true],
    ['0.0.0.0/0', '::ffff:10.1.2.3', true],
    ['0.0.0.0/0', '2001:db8::1', false],
    ['::ffff:a00:0/104', '10.1.2.3', true],
    ['::ffff:a00:0/104', '11.1.2.3', false],
    ['::ffff:0:0/95', '10.1.2.3', false],
    ['10.0.0.0/8', '::ffff:10.1.2.3', true],
    ['2001:db8::/32', '2001:db8::1', true],
  ];
  it('matches an IPv4 client against IPv4 networks only, as an access list does', () => {
    for (const [cidr, client, expected] of cases) {
      assert.equal(inNetworks(bytes(client), [parseNetwork(cidr)]), expected, `${client} in ${cidr}`);
      // the same answer as an access list that allows only that network
      assert.equal(new AccessList({ allow: [cidr], deny: [] }).allows(client), expected, `access list ${client} in ${cidr}`);
    }
  });
});
