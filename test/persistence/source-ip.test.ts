import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sourceKey } from '../../src/persistence/source-ip.ts';

describe('source-ip key', () => {
  const full = { mask: 32, mask6: 128 };

  it('is the address itself under the full masks', () => {
    assert.equal(sourceKey('192.0.2.7', full), '192.0.2.7');
    assert.equal(sourceKey('2001:db8::7', full), '2001:db8::7');
  });

  it('is the network and prefix length under a shorter mask', () => {
    const masks = { mask: 24, mask6: 64 };
    assert.equal(sourceKey('192.0.2.7', masks), '192.0.2.0/24');
    assert.equal(sourceKey('192.0.2.200', masks), '192.0.2.0/24');
    assert.equal(sourceKey('192.0.3.7', masks), '192.0.3.0/24');
    assert.equal(sourceKey('2001:db8:1:2:3:4:5:6', masks), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8:1:2::ffff', masks), '2001:db8:1:2::/64');
  });

  it('masks within a byte', () => {
    assert.equal(sourceKey('10.1.2.255', { mask: 20, mask6: 128 }), '10.1.0.0/20');
    assert.equal(sourceKey('10.1.31.255', { mask: 20, mask6: 128 }), '10.1.16.0/20');
    assert.equal(sourceKey('2001:db8:ffff::1', { mask: 32, mask6: 36 }), '2001:db8:f000::/36');
  });

  it('treats an IPv4-mapped IPv6 address as the IPv4 address it is', () => {
    assert.equal(sourceKey('::ffff:192.0.2.7', full), '192.0.2.7');
    assert.equal(sourceKey('::ffff:192.0.2.7', { mask: 24, mask6: 128 }), '192.0.2.0/24');
  });

  it('mask 0 puts every client of a family in one key', () => {
    assert.equal(sourceKey('198.51.100.1', { mask: 0, mask6: 0 }), '0.0.0.0/0');
    assert.equal(sourceKey('2001:db8::1', { mask: 0, mask6: 0 }), '::/0');
  });

  it('masks dotted quads at every prefix length as ipaddr.js does', () => {
    for (const address of ['192.0.2.7', '255.255.255.255', '0.0.0.0', '10.200.31.129']) {
      for (let mask = 0; mask <= 32; mask++) {
        const bytes = address.split('.').map(Number);
        const value = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
        const masked = mask === 0 ? 0 : (value & (-1 << (32 - mask))) >>> 0;
        const network = [masked >>> 24, (masked >>> 16) & 255, (masked >>> 8) & 255, masked & 255].join('.');
        assert.equal(sourceKey(address, { mask, mask6: 128 }), mask === 32 ? address : `${network}/${mask}`, `${address}/${mask}`);
      }
    }
  });

  it('is null for text that is not an address', () => {
    assert.equal(sourceKey('', full), null);
    assert.equal(sourceKey('example.com', full), null);
    assert.equal(sourceKey('300.1.1.1', full), null);
    assert.equal(sourceKey('1.2.3.4.5', full), null);
    assert.equal(sourceKey('1.2.3.', full), null);
  });
});
