// A peer's persistence entries into this node's sets: only what is valid for the service becomes
// text nft reads (address of its family and prefix, a member it has that serves, a bounded timeout).

import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import { adoptScript, type AdoptedEntry } from '../../src/kernel/sticky-adopt.ts';
import type { KernelMemberView, KernelServiceView } from '../../src/kernel/view.ts';
import { fuzz, fuzzCount } from '../helpers/fuzz.ts';

const member = (number: number, extra: Partial<KernelMemberView> = {}): KernelMemberView => ({
  number, id: `s${number + 1}`, ip: `10.0.0.${number + 1}`, port: 80, weight: 1, backup: false, usable: true, serves: true, ...extra,
});

function view(extra: Partial<KernelServiceView> = {}): KernelServiceView {
  return {
    name: 'www', mode: 'nat', protocol: 'tcp', family: 'ip', vip: '192.0.2.10', port: 80, method: 'round-robin',
    members: [member(0), member(1), member(2, { serves: false })], persistence: { prefix: 32, timeout: 600_000, size: 1000 },
    sourceNat: false, interface: null, idle: 300_000, flowSize: 65_536, flushOnDown: false, accepting: true, ...extra,
  };
}

const entry = (key: string, member = 's1', expiresIn = 30_000): AdoptedEntry => ({ key, member, expiresIn });

describe('adoptScript', () => {
  it('adds each entry to its member\'s set with the time it has left, one line per member', () => {
    const { script, taken } = adoptScript(view(), [entry('198.51.100.7'), entry('198.51.100.8', 's2', 59_999), entry('198.51.100.9')]);
    assert.equal(taken, 3);
    assert.equal(script, 'add element inet furiwake p.www.0 { 198.51.100.7 timeout 30s, 198.51.100.9 timeout 30s }\n' +
      'add element inet furiwake p.www.1 { 198.51.100.8 timeout 59s }\n');
  });

  it('keeps no entry longer than the service\'s own timeout; one with less than a second left is ignored', () => {
    assert.equal(adoptScript(view(), [entry('198.51.100.7', 's1', 0xffff_ffff)]).script, 'add element inet furiwake p.www.0 { 198.51.100.7 timeout 600s }\n');
    assert.deepEqual(adoptScript(view(), [entry('198.51.100.7', 's1', 999)]), { script: '', taken: 0 });
  });

  it('ignores a key of another family or prefix, a member it does not have or that does not serve', () => {
    const refused = [
      entry('2001:db8::7'), entry('198.51.100.0/24'), entry('198.51.100.300'), entry('198.51.100.7 } ; flush ruleset ; {'),
      entry('fe80::1%eth0'), entry(''), entry('198.51.100.7', 's9'), entry('198.51.100.7', 's3'),
    ];
    assert.deepEqual(adoptScript(view(), refused), { script: '', taken: 0 });
    // a /24 service takes only /24 keys
    const masked = view({ persistence: { prefix: 24, timeout: 60_000, size: 10 } });
    assert.deepEqual(adoptScript(masked, [entry('198.51.100.7'), entry('198.51.100.0/16')]), { script: '', taken: 0 });
    assert.equal(adoptScript(masked, [entry('198.51.100.0/24')]).script, 'add element inet furiwake p.www.0 { 198.51.100.0 timeout 30s }\n');
  });

  it('IPv6 and dsr: the netdev table, IPv6 keys only', () => {
    const v6 = view({ mode: 'dsr', family: 'ip6', interface: 'eth1', persistence: { prefix: 64, timeout: 60_000, size: 10 } });
    assert.deepEqual(adoptScript(v6, [entry('2001:db8:1:2::/64', 's2'), entry('198.51.100.0/64'), entry('2001:db8::/48')]), {
      script: 'add element netdev furiwake p.www.1 { 2001:db8:1:2:: timeout 30s }\n', taken: 1,
    });
  });

  it('a service without persistence takes nothing', () => {
    assert.deepEqual(adoptScript(view({ persistence: null }), [entry('198.51.100.7')]), { script: '', taken: 0 });
  });

  const DICTIONARY = ['/', '/32', '/64', '/24', ':', '::', '.', '%', ' ', '}', ';', '\n', 'ffff', '255', '0', 's1', 's2'];
  const LINE = /^add element (inet|netdev) furiwake p\.www\.([01]) \{ (.*) \}$/;

  it(`fuzz: mutated keys, members and times are added as valid elements or ignored, never thrown (${fuzzCount(30_000)} inputs)`, () => {
    for (const [family, prefix] of [['ip', 32], ['ip', 24], ['ip6', 128], ['ip6', 64]] as const) {
      const v = view({ family, persistence: { prefix, timeout: 600_000, size: 1000 } });
      const seedKey = family === 'ip' ? (prefix === 32 ? '198.51.100.7' : '198.51.100.0/24') : (prefix === 128 ? '2001:db8::7' : '2001:db8:1:2::/64');
      fuzz(0xad0b7 + prefix, fuzzCount(30_000) / 4, (f) => f.mutate(Buffer.from(`${seedKey}\t${f.pick(['s1', 's2', 's3'])}\t${f.int(700_000)}`), DICTIONARY), (input) => {
        const [key = '', id = '', ms = ''] = input.toString('latin1').split('\t');
        const { script, taken } = adoptScript(v, [{ key, member: id, expiresIn: Number(ms) }]);
        if (taken === 0) return assert.equal(script, '');
        assert.equal(taken, 1);
        const m = LINE.exec(script.trimEnd());
        assert.ok(m !== null && !script.trimEnd().includes('\n'), script);
        const [address, word, time] = m[3].split(' ');
        assert.ok(family === 'ip' ? isIPv4(address) : isIPv6(address), address);
        assert.equal(word, 'timeout');
        const seconds = Number(/^(\d+)s$/.exec(time)?.[1]);
        assert.ok(seconds >= 1 && seconds <= 600, time);
        assert.equal(key, prefix === (family === 'ip' ? 32 : 128) ? address : `${address}/${prefix}`);
      });
    }
  });
});
