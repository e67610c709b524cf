// Fuzzing the PROXY protocol: the v1 and v2 parsers, the address grammar beneath them, the header
// builder fed with what the parser accepted (parse(build(x)) is x), and the tcp client head that
// reads a PROXY header chunk by chunk. Seeded, so a failure replays; mutations of valid headers
// with grammar tokens, and pure random bytes.
//
// Properties: nothing throws; a parse is 'more', a refusal or an acceptance whose length is at
// most the input and the protocol's bound; accepted addresses are valid for their family and in
// canonical form, ports 0-65535; a valid prefix of an accepted header is 'more', never refused.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import ipaddr from 'ipaddr.js';
import { ClientHead } from '../../src/proxy/client-head.ts';
import { canonicalAddress } from '../../src/ip-text.ts';
import { type Parsed, parseProxyHeader, type ProxiedAddresses } from '../../src/proxy/proxy-header-reader.ts';
import { proxyHeader } from '../../src/proxy/proxy-protocol.ts';
import type { Endpoint } from '../../src/runtime/connection-table.ts';
import { type Fuzzer, fuzz, fuzzCount } from '../helpers/fuzz.ts';

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_MAX = 107;
const V2_MAX = 16 + 4096;

const V1_TOKENS = [
  'PROXY', ' ', 'TCP4', 'TCP6', 'UNKNOWN', '\r\n', '\r', '\n', '\0', '::', ':', '.', '0', '00', '01', '255', '256', '65535', '65536',
  '-1', '+1', '%eth0', 'ffff', 'FFFF', '::ffff:', '1.2.3.4', '[', ']', 'fffff', '1:2:3:4:5:6:7:8', '\t', '\x7f', '\xff',
];
const V2_TOKENS: (string | Buffer)[] = [
  SIGNATURE, Buffer.from([0x20]), Buffer.from([0x21]), Buffer.from([0x22]), Buffer.from([0x11]), Buffer.from([0x12]), Buffer.from([0x21, 0x21]),
  Buffer.from([0x31]), Buffer.from([0x00, 0x0c]), Buffer.from([0x00, 0x24]), Buffer.from([0xff, 0xff]), Buffer.from([0x04, 0x00, 0x00]),
  Buffer.from([0x10, 0x00]), Buffer.alloc(16), Buffer.from([0xff]),
];

function randomIPv4(f: Fuzzer): string {
  return [f.int(256), f.int(256), f.int(256), f.int(256)].join('.');
}

/** An IPv6 address in one of its many spellings: full, compressed, upper case, with a dotted tail. */
function randomIPv6(f: Fuzzer): string {
  const bytes = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) bytes[i] = f.int(4) === 0 ? f.int(256) : 0; // zero runs are common
  if (f.int(6) === 0) bytes.fill(0, 0, 10).fill(0xff, 10, 12); // IPv4-mapped
  const parsed = ipaddr.fromByteArray([...bytes]) as ipaddr.IPv6;
  switch (f.int(4)) {
    case 0: return parsed.toNormalizedString();
    case 1: return parsed.toNormalizedString().toUpperCase();
    case 2: return `${parsed.toNormalizedString().split(':').slice(0, 6).join(':')}:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
    default: return parsed.toRFC5952String();
  }
}

function randomPort(f: Fuzzer): number {
  return f.pick([0, 1, 80, 443, 65535, f.int(65536)]);
}

function validV1(f: Fuzzer): string {
  if (f.int(10) === 0) return f.int(2) === 0 ? 'PROXY UNKNOWN\r\n' : `PROXY UNKNOWN ${randomIPv4(f)} ${randomIPv4(f)} 1 2\r\n`;
  const v4 = f.int(2) === 0;
  const address = v4 ? randomIPv4 : randomIPv6;
  return `PROXY ${v4 ? 'TCP4' : 'TCP6'} ${address(f)} ${address(f)} ${randomPort(f)} ${randomPort(f)}\r\n`;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function validV2(f: Fuzzer): Buffer {
  const family = f.pick([0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32]);
  const addressLength = { 0x00: 0, 0x11: 12, 0x12: 12, 0x21: 36, 0x22: 36, 0x31: 216, 0x32: 216 }[family]!;
  const tlvs: Buffer[] = [];
  for (let n = f.int(3); n > 0; n--) {
    const value = f.bytes(f.int(20));
    tlvs.push(Buffer.concat([Buffer.from([f.int(256)]), u16(value.length), value]));
  }
  const body = Buffer.concat([f.bytes(addressLength), ...tlvs]);
  const command = f.int(5) === 0 ? 0x20 : 0x21;
  return Buffer.concat([SIGNATURE, Buffer.from([command, family]), u16(body.length), body]);
}

function familyOf(address: string): 4 | 6 {
  return net.isIPv4(address) ? 4 : 6;
}

/** The properties of any endpoint the parser hands out. */
function checkEndpoint(e: Endpoint, family: 4 | 6): void {
  assert.ok(family === 4 ? net.isIPv4(e.address) : net.isIPv6(e.address) && !e.address.includes('%'), `a valid IPv${family} address: ${e.address}`);
  assert.equal(canonicalAddress(e.address, family), e.address, 'in canonical form');
  assert.ok(Number.isInteger(e.port) && e.port >= 0 && e.port <= 65535, `port ${e.port}`);
}

/** The properties of any parse of `input`; returns the accepted result, if any. */
function checkParse(input: Buffer, parsed: Parsed): { addresses: ProxiedAddresses | null; length: number } | null {
  const v1 = input[0] === 0x50;
  if (parsed === 'more') {
    assert.ok(input.length < (v1 ? V1_MAX : V2_MAX), `'more' only below the bound (${input.length} bytes)`);
    return null;
  }
  if (parsed.error !== null) {
    assert.equal(typeof parsed.error, 'string');
    assert.ok(parsed.error.length < 300);
    assert.doesNotMatch(parsed.error, /[\0-\x1f\x7f-\uffff]/, 'the reason is printable: it is logged');
    return null;
  }
  assert.ok(parsed.length <= input.length, 'consumes at most the input');
  assert.ok(parsed.length <= (v1 ? V1_MAX : V2_MAX), 'within the bound');
  if (v1) {
    const line = input.subarray(0, parsed.length);
    assert.equal(line.subarray(-2).toString('latin1'), '\r\n');
    for (const c of line.subarray(0, -2)) assert.ok(c >= 0x20 && c <= 0x7e, 'printable ASCII before the CRLF');
  }
  if (parsed.addresses !== null) {
    const family = familyOf(parsed.addresses.source.address);
    checkEndpoint(parsed.addresses.source, family);
    checkEndpoint(parsed.addresses.destination, family);
  }
  // a valid prefix waits for more
  if (parsed.length > 1) {
    const cut = 1 + ((parsed.length * 7919) % (parsed.length - 1));
    assert.equal(parseProxyHeader(input.subarray(0, cut)), 'more', `a prefix of ${cut} bytes`);
  }
  return parsed;
}

function parseAndCheck(input: Buffer): void {
  checkParse(input, parseProxyHeader(input));
}

describe('PROXY protocol fuzzing', () => {
  it('v1: mutated lines and random bytes', () => {
    fuzz(0x5eed1, fuzzCount(40_000), (f, i) => {
      if (i % 8 === 7) return Buffer.concat([Buffer.from('PROXY '), f.bytes(f.int(120))]);
      return f.mutate(Buffer.from(validV1(f), 'latin1'), V1_TOKENS);
    }, parseAndCheck);
  });

  it('v1: valid lines are accepted whole, with their addresses in canonical form', () => {
    fuzz(0x5eed2, fuzzCount(20_000), (f) => Buffer.from(validV1(f) + 'rest', 'latin1'), (input) => {
      const parsed = checkParse(input, parseProxyHeader(input));
      assert.ok(parsed !== null, 'accepted');
      assert.equal(parsed.length, input.length - 4);
      const words = input.toString('latin1', 0, parsed.length - 2).split(' ');
      if (words[1] === 'UNKNOWN') return assert.equal(parsed.addresses, null);
      const addresses = parsed.addresses!;
      const same = (a: string, b: string): boolean => ipaddr.parse(a).toString() === ipaddr.parse(b).toString();
      assert.ok(same(addresses.source.address, words[2]) && same(addresses.destination.address, words[3]));
      assert.deepEqual([addresses.source.port, addresses.destination.port], [Number(words[4]), Number(words[5])]);
    });
  });

  it('v2: mutated headers and random bytes', () => {
    fuzz(0x5eed3, fuzzCount(40_000), (f, i) => {
      if (i % 8 === 7) return Buffer.concat([SIGNATURE.subarray(0, f.int(13)), f.bytes(f.int(80))]);
      return f.mutate(validV2(f), V2_TOKENS);
    }, parseAndCheck);
  });

  it('the address grammar agrees with node:net (no zone ids), on what is an address and on its value', () => {
    const tokens = ['::', ':', '.', '0', '00', '000', '0000', '00000', '1', '255', '256', 'ffff', 'FfFf', 'g', '%', '%1', '1.2.3.4', '::ffff:', ' '];
    fuzz(0x5eed4, fuzzCount(40_000), (f) => {
      const seed = f.int(2) === 0 ? randomIPv4(f) : randomIPv6(f);
      return f.int(4) === 0 ? Buffer.from(seed, 'latin1') : f.mutate(Buffer.from(seed, 'latin1'), tokens);
    }, (input) => {
      const text = input.toString('latin1');
      const v4 = canonicalAddress(text, 4);
      const v6 = canonicalAddress(text, 6);
      assert.equal(v4 !== null, net.isIPv4(text), `IPv4 ${JSON.stringify(text)}`);
      assert.equal(v6 !== null, net.isIPv6(text) && !text.includes('%'), `IPv6 ${JSON.stringify(text)}`);
      if (v4 !== null) assert.equal(v4, text);
      if (v6 !== null) {
        // the same bytes as the system's inet_pton sees (its text differs for the deprecated ::a.b.c.d)
        assert.equal(canonicalAddress(new net.SocketAddress({ address: text, family: 'ipv6' }).address, 6), v6);
        assert.equal(canonicalAddress(v6, 6), v6, 'the canonical form is its own');
        // RFC 5952 as ipaddr.js writes it, but with dots only for IPv4-mapped addresses (as Node's sockets show them)
        const rfc = (ipaddr.parse(v6) as ipaddr.IPv6).toRFC5952String();
        if (!rfc.includes('.') && !v6.startsWith('::ffff:')) assert.equal(v6, rfc);
      }
    });
  });

  it('the builder round-trips what the parser accepted and never throws on anything else', () => {
    const junk = ['', 'not-an-ip', '1.2.3', '01.2.3.4', 'fffff::1', 'fe80::1%eth0', '1.2.3.4\r\nX: y', '::1::', '[::1]', ' 1.2.3.4'];
    fuzz(0x5eed5, fuzzCount(30_000), (f) => f.mutate(Buffer.from(validV1(f), 'latin1'), V1_TOKENS), (input, i) => {
      const parsed = parseProxyHeader(input);
      if (parsed === 'more' || parsed.error !== null || parsed.addresses === null) {
        // not a usable header: build from junk instead; the builder names no address
        const bad = { address: junk[i % junk.length], port: [1, -1, 65536, 1.5, Number.NaN][i % 5] };
        for (const version of ['v1', 'v2'] as const) {
          const header = proxyHeader(version, 'tcp', bad, { address: '192.0.2.1', port: 80 });
          const again = parseProxyHeader(header);
          assert.ok(again !== 'more' && again.error === null && again.length === header.length && again.addresses === null);
        }
        return;
      }
      const { source, destination } = parsed.addresses;
      // both IPv4-mapped: the builder writes them as IPv4
      const unmapped = (e: Endpoint): Endpoint => ({ address: ipaddr.process(e.address).toString(), port: e.port });
      const bothMapped = source.address.startsWith('::ffff:') && destination.address.startsWith('::ffff:') && source.address.includes('.') && destination.address.includes('.');
      const expected = bothMapped ? { source: unmapped(source), destination: unmapped(destination) } : { source, destination };
      for (const version of ['v1', 'v2'] as const) {
        for (const transport of ['tcp', 'udp'] as const) {
          if (version === 'v1' && transport === 'udp') continue;
          const header = proxyHeader(version, transport, source, destination);
          const again = checkParse(header, parseProxyHeader(header));
          assert.ok(again !== null && again.length === header.length, `${version} parses whole`);
          assert.deepEqual(again.addresses, expected, `${version} round trip`);
        }
      }
    });
  });

  it('the tcp client head reads a PROXY header over random chunks and never keeps more than it got', () => {
    fuzz(0x5eed6, fuzzCount(20_000), (f, i) => {
      const header = i % 2 === 0 ? Buffer.from(validV1(f), 'latin1') : validV2(f);
      return Buffer.concat([f.int(3) === 0 ? f.mutate(header, i % 2 === 0 ? V1_TOKENS : V2_TOKENS) : header, f.bytes(f.int(20))]);
    }, (input, i) => {
      const head = new ClientHead(true, i % 3 === 0);
      let done = false;
      let fed = 0;
      for (let at = 0, step = 1 + (i % 17); at < input.length && !done; at += step) {
        const chunk = input.subarray(at, at + step);
        fed += chunk.length;
        done = head.push(chunk);
      }
      if (!done) head.stop('the client finished');
      assert.ok(head.restBytes <= fed);
      if (head.error === null && head.addresses !== null) {
        const family = familyOf(head.addresses.source.address);
        checkEndpoint(head.addresses.source, family);
        checkEndpoint(head.addresses.destination, family);
      }
    });
  });
});
