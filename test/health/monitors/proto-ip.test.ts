// Addresses as the monitors compare them (ICMP reply sources, DNS answers): one spelling or
// another of one address gives the same bytes, an IPv4-mapped address is its IPv4 address, and
// anything else is not an address. The parsing is ip-text.ts's; these pin what proto-ip makes of it.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { ipBytes, ipText, sameAddress, wireFamily } from '../../../src/health/monitors/proto-ip.ts';
import { fuzz, fuzzCount } from '../../helpers/fuzz.ts';

const TOKENS = ['::', ':', '.', '0', '00', '255', '256', 'ffff', 'FFFF', '::ffff:', '1.2.3.4', '%eth0', 'g', '12345'];

describe('proto-ip', () => {
  it('gives one address the same bytes in every spelling', () => {
    assert.ok(sameAddress('::1', '0:0::1'));
    assert.ok(sameAddress('2001:DB8::1', '2001:db8:0:0:0:0:0:1'));
    assert.ok(sameAddress('::ffff:127.0.0.1', '127.0.0.1'));
    assert.ok(sameAddress('::ffff:7f00:1', '127.0.0.1'));
    assert.ok(sameAddress('fe80::1%eth0', 'fe80::1'));
    assert.ok(!sameAddress('127.0.0.1', '127.0.0.2'));
    assert.ok(!sameAddress('::1', 'not an address'));
  });

  it('tells the family used on the wire: an IPv4-mapped address is IPv4', () => {
    assert.equal(wireFamily('192.0.2.1'), 4);
    assert.equal(wireFamily('::ffff:192.0.2.1'), 4);
    assert.equal(wireFamily('2001:db8::1'), 6);
    assert.equal(wireFamily('example.com'), 0);
    assert.equal(wireFamily('010.0.0.1'), 0);
  });

  it('writes the bytes back in one canonical spelling', () => {
    assert.equal(ipText(ipBytes('::ffff:192.0.2.1')!), '192.0.2.1');
    assert.equal(ipText(ipBytes('2001:0DB8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
    assert.equal(ipText(ipBytes('0:0:0:0:0:0:0:0')!), '::');
  });

  it(`agrees with node:net and the WHATWG URL parser on ${fuzzCount(20_000)} mutated addresses, and never throws`, () => {
    const seeds = ['192.0.2.1', '::ffff:10.0.0.1', '2001:db8::8:800:200c:417a', '::1', 'fe80::1%eth0', '1:2:3:4:5:6:7:8'];
    fuzz(0x1b5, fuzzCount(20_000), (f) => f.mutate(Buffer.from(f.pick(seeds), 'latin1'), TOKENS), (input) => {
      const text = input.toString('latin1');
      const bytes = ipBytes(text);
      const bare = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
      if (bytes === null) {
        assert.equal(net.isIP(bare) === 0 || bare.length > 45, true, `${JSON.stringify(text)} refused, but node:net reads it`);
        return;
      }
      assert.notEqual(net.isIP(bare), 0, `${JSON.stringify(text)} accepted, but node:net refuses it`);
      assert.deepEqual([...bytes], urlBytes(bare));
      assert.ok(sameAddress(ipText(bytes), text));
    });
  });
});

/** The bytes of an address by another parser: node's URL host parser (it writes IPv6 as hex words only). */
function urlBytes(address: string): number[] {
  if (net.isIPv4(address)) return address.split('.').map(Number);
  const hex = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head, tail] = hex.includes('::') ? hex.split('::') : [hex, ''];
  const words = (s: string): number[] => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const front = words(head);
  const back = words(tail);
  const all = [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
  const bytes = all.flatMap((w) => [w >> 8, w & 0xff]);
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}
