// Reading the kernel's tables: conntrack's text output and nft's JSON listing of a set.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conntrackLine, deleteConnection, parseConntrack, readEventLine, scanConntrack, type ConntrackEntry, type Tuple } from '../../src/kernel/conntrack.ts';
import { parseSetElements, parseSets } from '../../src/kernel/set-elements.ts';
import { fuzz, fuzzCount } from '../helpers/fuzz.ts';

const TCP = 'tcp      6 119 TIME_WAIT src=10.88.1.10 dst=10.88.2.100 sport=42818 dport=81 packets=4 bytes=216 src=10.88.2.11 dst=10.88.1.10 sport=80 dport=42818 packets=4 bytes=219 [ASSURED] mark=0 delta-time=7 use=1 id=3611199402';
const UDP = 'udp      17 29 src=10.88.1.10 dst=10.88.2.100 sport=45039 dport=53 [UNREPLIED] src=10.88.2.100 dst=10.88.1.10 sport=53 dport=45039 mark=0 use=1 id=557541798';
const TCP6 = 'tcp      6 431999 ESTABLISHED src=fd88:1::10 dst=fd88:2::100 sport=50000 dport=80 [UNREPLIED] src=fd88:2::11 dst=fd88:1::10 sport=80 dport=50000 mark=0 use=1';

/** An entry written back as conntrack's line: what it reads must read back the same. */
function line(e: ConntrackEntry): string {
  const tuple = (t: Tuple): string => `src=${t.src} dst=${t.dst} sport=${t.sport} dport=${t.dport}` +
    `${t.packets === null ? '' : ` packets=${t.packets}`}${t.bytes === null ? '' : ` bytes=${t.bytes}`}`;
  return `${e.protocol} 6 ${e.timeout} ${e.state} ${tuple(e.original)} ${tuple(e.reply)} id=${e.id}${e.age === null ? '' : ` delta-time=${e.age}`}`;
}

describe('conntrack output', () => {
  it('a translated tcp connection, with accounting and timestamps', () => {
    const [e] = parseConntrack(`${TCP}\n`);
    assert.deepEqual(e, {
      protocol: 'tcp', timeout: 119, state: 'TIME_WAIT',
      original: { src: '10.88.1.10', dst: '10.88.2.100', sport: 42818, dport: 81, packets: 4, bytes: 216 },
      reply: { src: '10.88.2.11', dst: '10.88.1.10', sport: 80, dport: 42818, packets: 4, bytes: 219 },
      id: 3611199402, age: 7,
    });
  });

  it('udp has no state: its flags say whether it was answered', () => {
    const [e] = parseConntrack(UDP);
    assert.equal(e.state, 'UNREPLIED');
    assert.equal(e.original.bytes, null);
    assert.equal(e.age, null);
  });

  it('skips what is not a connection line', () => {
    assert.deepEqual(parseConntrack('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n\ngarbage = here\n'), []);
  });

  it('skips a line whose port is not one (letters, past 65535, signed) or whose tuple lacks a part', () => {
    for (const bad of ['sport=42818', 'dport=81']) {
      for (const value of ['http', '65536', '-1', '', '4e4']) assert.deepEqual(parseConntrack(TCP.replace(bad, `${bad.split('=')[0]}=${value}`)), [], `${bad} -> ${value}`);
    }
    assert.deepEqual(parseConntrack(TCP.replace('dst=10.88.1.10 ', '')), []);
    assert.equal(parseConntrack(TCP.replace('sport=42818', 'sport=65535'))[0].original.sport, 65535);
  });

  it('the listing read line by line into one record: each connection once, both families, nothing kept', () => {
    const seen: string[] = [];
    scanConntrack(`${TCP}\nnot a line\n${TCP6}\n${UDP}`, (l) => {
      seen.push(`${l.protocol} ${l.state} ${l.original.dst}:${l.original.dport} ${l.reply.src}:${l.reply.sport}`);
    });
    assert.deepEqual(seen, [
      'tcp TIME_WAIT 10.88.2.100:81 10.88.2.11:80',
      'tcp ESTABLISHED fd88:2::100:80 fd88:2::11:80',
      'udp null 10.88.2.100:53 10.88.2.100:53',
    ]);
  });

  it('fuzz: any listing reads without a throw, into entries with valid ports that read back the same', () => {
    const seeds = [TCP, UDP, TCP6, `${TCP}\n${UDP}`].map((l) => Buffer.from(l));
    const dictionary = ['src=', 'dst=', 'sport=', 'dport=', 'packets=', 'bytes=', 'id=', 'delta-time=', '[UNREPLIED]', '[ASSURED]',
      'ESTABLISHED', ' ', '  ', '\t', '\n', '=', '65535', '65536', '0', '-1', '999999999999999', '9999999999999999'];
    fuzz(0xc7c7, fuzzCount(20_000), (f) => f.mutate(f.pick(seeds), dictionary), (input) => {
      const entries = parseConntrack(input.toString('latin1'));
      for (const e of entries) {
        for (const t of [e.original, e.reply]) {
          for (const port of [t.sport, t.dport]) assert.ok(Number.isInteger(port) && port >= 0 && port <= 65535, String(port));
          assert.ok(t.src !== '' && t.dst !== '' && !/\s/.test(t.src + t.dst));
        }
        assert.ok(Number.isSafeInteger(e.timeout) && Number.isSafeInteger(e.id) && e.id >= 0);
        assert.deepEqual(parseConntrack(line(e)), [e]);
      }
    });
  });
});

describe('conntrack -E lines', () => {
  const DESTROY = '[DESTROY] tcp      6 120 CLOSE src=10.88.1.10 dst=10.88.2.100 sport=41676 dport=84 [UNREPLIED] src=10.88.2.13 dst=10.88.1.10 sport=84 dport=41676 id=1994453548';

  it("an event's tag, then a listing's line: a SYN the member reset", () => {
    const r = conntrackLine();
    assert.equal(readEventLine(DESTROY, r), true);
    assert.deepEqual([r.protocol, r.state, r.unreplied, r.assured, r.id], ['tcp', 'CLOSE', true, false, 1994453548]);
    assert.deepEqual([r.original.dst, r.original.dport, r.reply.src, r.reply.sport], ['10.88.2.100', 84, '10.88.2.13', 84]);
    assert.equal(readEventLine(`    [NEW] ${TCP}`.trim(), r), true);
    assert.equal(r.state, 'TIME_WAIT');
  });

  it('refuses a line without a tag, a tag alone, a line too long, and a summary', () => {
    const r = conntrackLine();
    for (const bad of [TCP, '[DESTROY]', '[DESTROY] ', `${DESTROY} ${'x'.repeat(5000)}`, 'conntrack v1.4.7 (conntrack-tools): 1 flow events have been shown.']) {
      assert.equal(readEventLine(bad, r), false, bad.slice(0, 40));
    }
  });

  it('fuzz: any event line reads without a throw; what it accepts has valid ports and two complete tuples', () => {
    const seeds = [DESTROY, `[UPDATE] ${TCP}`, `[NEW] ${UDP}`, `[DESTROY] ${TCP6}`].map((l) => Buffer.from(l));
    const dictionary = ['[DESTROY]', '[NEW]', '[UPDATE]', '[', ']', 'src=', 'dst=', 'sport=', 'dport=', 'id=', '[UNREPLIED]', '[ASSURED]', 'CLOSE', 'SYN_SENT', ' ', '=', '65535', '65536', '-1'];
    const r = conntrackLine();
    fuzz(0xe7e7, fuzzCount(20_000), (f) => f.mutate(f.pick(seeds), dictionary), (input) => {
      if (!readEventLine(input.toString('latin1'), r)) return;
      for (const t of [r.original, r.reply]) {
        for (const port of [t.sport, t.dport]) assert.ok(Number.isInteger(port) && port >= 0 && port <= 65535, String(port));
        assert.ok(t.src !== '' && t.dst !== '' && !/\s/.test(t.src + t.dst));
      }
      assert.ok(Number.isSafeInteger(r.id) && r.id >= 0);
    });
  });
});

describe('deleting one connection by its tuple', () => {
  it('refuses a tuple that is not one before conntrack runs: other protocols, mixed families, bad ports, options', async () => {
    const ok = { protocol: 'tcp', src: '10.1.1.1', sport: 50000, dst: '10.0.0.100', dport: 80 };
    const bad = [
      { ...ok, protocol: 'icmp' }, { ...ok, src: '2001:db8::1' }, { ...ok, src: '-F' }, { ...ok, dst: '10.0.0.300' },
      { ...ok, sport: 0 }, { ...ok, dport: 65536 }, { ...ok, sport: 1.5 }, { ...ok, src: '10.1.1.1 -F' },
    ];
    for (const t of bad) await assert.rejects(deleteConnection('/nonexistent/conntrack', t), /not a connection conntrack can be asked to delete/, JSON.stringify(t));
    // a valid one reaches the tool (here: none to run)
    await assert.rejects(deleteConnection('/nonexistent/conntrack', ok), /\/nonexistent\/conntrack: spawn/);
    await assert.rejects(deleteConnection('/nonexistent/conntrack', { ...ok, src: '2001:db8::1', dst: '2001:db8::100' }), /\/nonexistent\/conntrack: spawn/);
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

  it('a whole table: each set by name with its entries', () => {
    const sets = parseSets(JSON.stringify({ nftables: [
      { metainfo: { version: '1.0.6' } },
      { table: { family: 'netdev', name: 'furiwake' } },
      { set: { family: 'netdev', name: 'f.www.0', table: 'furiwake', elem: [{ elem: { val: { concat: ['10.0.0.2', 99] }, expires: 299 } }, { elem: { val: { concat: ['10.0.0.1', 1234] }, timeout: 100, expires: 99 } }] } },
      { set: { family: 'netdev', name: 'f.www.1', table: 'furiwake' } },
    ] }));
    assert.deepEqual([...sets], [
      ['f.www.0', [{ key: ['10.0.0.2', 99], expires: 299 }, { key: ['10.0.0.1', 1234], expires: 99 }]],
      ['f.www.1', []],
    ]);
  });
});
