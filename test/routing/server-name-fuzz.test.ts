// The TLS server name read from a ClientHello for tcp routes (src/routing/server-name.ts): the
// grammar of RFC 6066's server_name extension, what is taken as a name (a DNS name, lowercased,
// without its final dot) and what is not (anything else reads as no name). Then fuzzed: mutations
// of hellos carrying a name (lengths, name types, odd bytes) and random bytes never throw, and
// any name read is a DNS name that a hello built anew with it reads the same.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helloServerName, serverNameOf } from '../../src/routing/server-name.ts';
import { fuzz, fuzzCount } from '../helpers/fuzz.ts';
import { extension, extensions, u16 } from '../helpers/tls-handshake.ts';

/** server_name data: a list of (type, name) entries. */
function nameList(...entries: [number, string | Buffer][]): Buffer {
  const list = Buffer.concat(entries.map(([type, name]) => {
    const bytes = typeof name === 'string' ? Buffer.from(name, 'latin1') : name;
    return Buffer.concat([Buffer.from([type]), u16(bytes.length), bytes]);
  }));
  return Buffer.concat([u16(list.length), list]);
}

/** A ClientHello body with `exts` (type, data) as its extensions. */
function hello(...exts: [number, Buffer][]): Buffer {
  return Buffer.concat([
    u16(0x0303), Buffer.alloc(32, 7), Buffer.from([0]), u16(2), Buffer.from([0x13, 0x01]), Buffer.from([1, 0]),
    extensions(...exts.map(([type, data]) => extension(type, data))),
  ]);
}

const DNS_NAME = /^[a-z0-9._-]{1,253}$/;

describe('the server name of a ClientHello', () => {
  it('reads the host_name, lowercased and without its final dot', () => {
    assert.equal(helloServerName(hello([0, nameList([0, 'a.test'])])), 'a.test');
    assert.equal(helloServerName(hello([10, Buffer.from([0, 2, 0, 29])], [0, nameList([0, 'Www.Example.COM.'])])), 'www.example.com');
    // an entry of another type first is skipped
    assert.equal(serverNameOf(nameList([1, 'other'], [0, 'b.test'])), 'b.test');
    assert.equal(helloServerName(hello([0, nameList([0, 'under_score.test'])])), 'under_score.test');
  });

  it('reads no name from a hello without one, or with one that is not a DNS name', () => {
    assert.equal(helloServerName(hello([10, Buffer.from([0, 2, 0, 29])])), null);
    assert.equal(helloServerName(hello()), null);
    for (const bad of ['', '.', 'a b.test', 'a\0.test', 'ä.test', 'a/b', 'a:443', 'x'.repeat(254)]) {
      assert.equal(helloServerName(hello([0, nameList([0, bad])])), null, JSON.stringify(bad));
    }
    assert.equal(helloServerName(hello([0, nameList([0, Buffer.from([0x61, 0xff])])])), null);
    // lengths that do not add up
    assert.equal(serverNameOf(Buffer.concat([u16(10), Buffer.from([0]), u16(6), Buffer.from('a.test')])), null);
    assert.equal(serverNameOf(Buffer.concat([u16(9), Buffer.from([0]), u16(7), Buffer.from('a.test')])), null);
    assert.equal(serverNameOf(Buffer.alloc(0)), null);
    // a malformed hello
    assert.equal(helloServerName(hello([0, nameList([0, 'a.test'])]).subarray(0, 40)), null);
  });

  it('never throws, and reads only DNS names that read the same again (fuzzed)', () => {
    const seeds = [hello([0, nameList([0, 'a.test'])]), hello([43, Buffer.from([2, 3, 4])], [0, nameList([1, 'x'], [0, 'Api7.B.Test'])]), hello()];
    const dictionary = [u16(0), u16(1), u16(0xffff), Buffer.from([0]), Buffer.from([1]), Buffer.from([0xff]), '.', '..', 'A', '-', '_', '\0', ' ', 'test', u16(253), u16(254)];
    let named = 0;
    fuzz(0x5e1, fuzzCount(30_000), (f) => (f.random() < 0.1 ? f.bytes(f.int(120)) : f.mutate(f.pick(seeds), dictionary)), (input) => {
      const name = helloServerName(input);
      if (name === null) return;
      named++;
      assert.match(name, DNS_NAME);
      assert.ok(!name.endsWith('.'));
      assert.equal(helloServerName(hello([0, nameList([0, name])])), name);
    });
    assert.ok(named > 0);
  });
});
