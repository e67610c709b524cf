// Reading the kernel's tables: conntrack's text output and nft's JSON listing of a set.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConntrack } from '../../src/kernel/conntrack.ts';
import { parseSetElements } from '../../src/kernel/set-elements.ts';

describe('conntrack output', () => {
  it('a translated tcp connection, with accounting and timestamps', () => {
    const [e] = parseConntrack(
      'tcp      6 119 TIME_WAIT src=10.88.1.10 dst=10.88.2.100 sport=42818 dport=81 packets=4 bytes=216 src=10.88.2.11 dst=10.88.1.10 sport=80 dport=42818 packets=4 bytes=219 [ASSURED] mark=0 delta-time=7 use=1 id=3611199402\n');
    assert.deepEqual(e, {
      protocol: 'tcp', timeout: 119, state: 'TIME_WAIT',
      original: { src: '10.88.1.10', dst: '10.88.2.100', sport: 42818, dport: 81, packets: 4, bytes: 216 },
      reply: { src: '10.88.2.11', dst: '10.88.1.10', sport: 80, dport: 42818, packets: 4, bytes: 219 },
      id: 3611199402, age: 7,
    });
  });

  it('udp has no state: its flags say whether it was answered', () => {
    const [e] = parseConntrack('udp      17 29 src=10.88.1.10 dst=10.88.2.100 sport=45039 dport=53 [UNREPLIED] src=10.88.2.100 dst=10.88.1.10 sport=53 dport=45039 mark=0 use=1 id=557541798');
    assert.equal(e.state, 'UNREPLIED');
    assert.equal(e.original.bytes, null);
    assert.equal(e.age, null);
  });

  it('skips what is not a connection line', () => {
    assert.deepEqual(parseConntrack('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n\ngarbage = here\n'), []);
  });
});

describe('nft set listing', () => {
  it('addresses and concatenations with their expiry; an empty set has no elem', () => {
    assert.deepEqual(parseSetElements(JSON.stringify({ nftables: [
      { metainfo: { version: '1.0.6' } },
      { set: { family: 'inet', name: 'p.www.0', table: 'furiwake', elem: [{ elem: { val: '10.88.1.0', expires: 599 } }] } },
    ] })), [{ key: ['10.88.1.0'], expires: 599 }]);
    assert.deepEqual(parseSetElements(JSON.stringify({ nftables: [
      { set: { elem: [{ elem: { val: { concat: ['10.88.1.10', 42818] }, expires: 30 } }] } },
    ] })), [{ key: ['10.88.1.10', 42818], expires: 30 }]);
    assert.deepEqual(parseSetElements(JSON.stringify({ nftables: [{ set: { name: 'f.www.0' } }] })), []);
  });
});
