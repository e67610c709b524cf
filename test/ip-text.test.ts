// The IP helpers every layer shares: an IPv4 client behind a dual-stack socket is told apart in
// one place, and canonical text is one spelling per address.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalAddress, canonicalIP, unmappedIPv4 } from '../src/ip-text.ts';

describe('ip-text', () => {
  it('unmaps an IPv4-mapped address as sockets spell it, and leaves anything else as it is', () => {
    assert.equal(unmappedIPv4('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(unmappedIPv4('192.0.2.1'), '192.0.2.1');
    assert.equal(unmappedIPv4('2001:db8::1'), '2001:db8::1');
    assert.equal(unmappedIPv4('::ffff:c000:201'), '::ffff:c000:201'); // hex words: not the socket's spelling
    assert.equal(unmappedIPv4('::ffff:'), '::ffff:');
    assert.equal(unmappedIPv4(''), '');
  });

  it('writes one canonical text per address', () => {
    assert.equal(canonicalIP('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(canonicalIP('::FFFF:c000:201'), '192.0.2.1');
    assert.equal(canonicalIP('2001:0DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(canonicalIP('010.0.0.1'), null);
    assert.equal(canonicalAddress('0:0::1', 6), '::1');
    assert.equal(canonicalAddress('fe80::1%eth0', 6), null);
  });
});
