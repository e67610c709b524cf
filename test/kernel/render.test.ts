// The ruleset as text, and the transactions between rulesets: what a packet meets, and that a
// re-render keeps the sets the packet path wrote.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientKey, render } from '../../src/kernel/render.ts';
import { transaction } from '../../src/kernel/transaction.ts';
import type { KernelMemberView, KernelServiceView } from '../../src/kernel/view.ts';

const member = (number: number, extra: Partial<KernelMemberView> = {}): KernelMemberView => ({
  number, id: `10.0.0.${number + 1}:80`, ip: `10.0.0.${number + 1}`, port: 80, weight: 1, backup: false, usable: true, serves: true, ...extra,
});

function nat(extra: Partial<KernelServiceView> = {}): KernelServiceView {
  return {
    name: 'www', mode: 'nat', protocol: 'tcp', family: 'ip', vip: '192.0.2.10', port: 80, method: 'round-robin',
    members: [member(0), member(1)], persistence: null, sourceNat: false, interface: null, idle: 300_000, flowSize: 65_536,
    flushOnDown: false, accepting: true, ...extra,
  };
}

const chain = (view: KernelServiceView[], name: string): string[] | undefined =>
  render(view).tables.flatMap((t) => t.chains).find((c) => c.name === name)?.rules;

describe('render', () => {
  it('nat: the VIP goes to its service chain, which picks a member chain that translates', () => {
    const view = [nat()];
    assert.deepEqual(chain(view, 'nat.pre'), ['ip daddr 192.0.2.10 tcp dport 80 goto svc.www']);
    assert.deepEqual(chain(view, 'svc.www'), ['numgen inc mod 2 vmap { 0 : goto m.www.0, 1 : goto m.www.1 }']);
    assert.deepEqual(chain(view, 'm.www.1'), ['meta l4proto tcp dnat ip to 10.0.0.2:80']);
    assert.deepEqual(chain(view, 'filter.in'), ['ip daddr 192.0.2.10 tcp dport 80 reject with tcp reset']);
    assert.deepEqual(chain(view, 'raw.pre'), ['ip daddr 192.0.2.10 tcp dport 80 ct timeout set "idle.www"']);
    assert.equal(chain(view, 'nat.post'), undefined);
  });

  it('nat: persistence first, for members that still serve; the algorithm for the rest', () => {
    const view = [nat({ persistence: { prefix: 24, timeout: 600_000, size: 1000 }, members: [member(0), member(1, { usable: false, serves: false })] })];
    assert.deepEqual(chain(view, 'svc.www'), ['ip saddr & 255.255.255.0 @p.www.0 goto m.www.0', 'goto m.www.0']);
    assert.deepEqual(chain(view, 'm.www.0'), ['update @p.www.0 { ip saddr & 255.255.255.0 }', 'meta l4proto tcp dnat ip to 10.0.0.1:80']);
    assert.deepEqual(render(view).flush, [{ family: 'inet', set: 'p.www.1' }]);
  });

  it('nat: no usable member, no selection: the packet meets the reject in the input chain', () => {
    assert.deepEqual(chain([nat({ members: [member(0, { usable: false })] })], 'svc.www'), []);
  });

  it('nat udp, IPv6, source-hash and full-NAT', () => {
    const view = [nat({ protocol: 'udp', family: 'ip6', vip: '2001:db8::10', port: 53, method: 'source-hash', sourceNat: true,
      members: [member(0, { ip: '2001:db8::1', port: 5353 }), member(1, { ip: '2001:db8::2', port: 5353 })] })];
    assert.match(chain(view, 'svc.www')![0], /^jhash ip6 saddr mod 64 seed 0x[0-9a-f]+ vmap \{ 0 : goto m\.www\.0, 1 : goto m\.www\.1, /);
    assert.deepEqual(chain(view, 'm.www.0'), ['meta l4proto udp dnat ip6 to [2001:db8::1]:5353']);
    assert.deepEqual(chain(view, 'nat.post'), ['ct original ip6 daddr 2001:db8::10 meta l4proto udp ct original proto-dst { 53 } masquerade']);
    assert.deepEqual(chain(view, 'filter.in'), ['ip6 daddr 2001:db8::10 udp dport 53 reject']);
    // an ICMP error about one of its connections marks that connection, for passive health
    assert.deepEqual(chain(view, 'errors.pre'), ['icmpv6 type destination-unreachable ct state related ct direction reply ct original ip6 daddr 2001:db8::10 ct protocol udp ct original proto-dst 53 ct mark set ct mark | 0x40000000']);
  });

  it('dsr: an ingress chain on the interface; ended flows reset, established ones first; the member chain forwards', () => {
    const view = [nat({ mode: 'dsr', interface: 'eth1', idle: 30_000 })];
    assert.equal(render(view).tables.find((t) => t.family === 'netdev')?.chains[0].base, 'type filter hook ingress device "eth1" priority filter; policy accept;');
    assert.deepEqual(chain(view, 'ingress.eth1'), ['ip daddr 192.0.2.10 tcp dport 80 goto svc.www']);
    assert.deepEqual(chain(view, 'svc.www'), [
      'ip saddr . tcp sport @e.www reject with tcp reset',
      'ip saddr . tcp sport @f.www.0 goto m.www.0',
      'ip saddr . tcp sport @f.www.1 goto m.www.1',
      'numgen inc mod 2 vmap { 0 : goto m.www.0, 1 : goto m.www.1 }',
    ]);
    assert.deepEqual(chain(view, 'm.www.0'), ['update @f.www.0 { ip saddr . tcp sport }', 'fwd ip to 10.0.0.1 device "eth1"']);
    const sets = render(view).tables.find((t) => t.family === 'netdev')!.objects;
    assert.deepEqual(sets.map((s) => s.name), ['e.www', 'f.www.0', 'f.www.1']);
    assert.deepEqual(sets[0].body, ['type ipv4_addr . inet_service', 'size 65536', 'flags dynamic,timeout', 'timeout 60s']);
    assert.deepEqual(sets[1].body, ['type ipv4_addr . inet_service', 'size 65536', 'flags dynamic,timeout', 'timeout 30s']);
  });

  it('dsr udp: no ended set; a flow ended by hand is balanced anew', () => {
    const view = [nat({ mode: 'dsr', interface: 'eth1', protocol: 'udp' })];
    assert.equal(chain(view, 'svc.www')![0], 'ip saddr . udp sport @f.www.0 goto m.www.0');
    assert.deepEqual(render(view).tables.find((t) => t.family === 'netdev')!.objects.map((s) => s.name), ['f.www.0', 'f.www.1']);
  });

  it('dsr flush-on-down: a member that stops serving loses its flows', () => {
    const view = [nat({ mode: 'dsr', interface: 'eth1', flushOnDown: true, members: [member(0), member(1, { usable: false, serves: false })] })];
    assert.deepEqual(chain(view, 'svc.www'), ['ip saddr . tcp sport @e.www reject with tcp reset', 'ip saddr . tcp sport @f.www.0 goto m.www.0', 'goto m.www.0']);
    assert.deepEqual(render(view).flush, [{ family: 'netdev', set: 'f.www.1' }]);
  });

  it('a service on its way out takes no new connection; dsr keeps forwarding its flows', () => {
    assert.deepEqual(chain([nat({ accepting: false, persistence: { prefix: 24, timeout: 1000, size: 10 } })], 'svc.www'), []);
    assert.deepEqual(chain([nat({ mode: 'dsr', interface: 'eth1', accepting: false })], 'svc.www'), [
      'ip saddr . tcp sport @e.www reject with tcp reset',
      'ip saddr . tcp sport @f.www.0 goto m.www.0',
      'ip saddr . tcp sport @f.www.1 goto m.www.1',
    ]);
  });

  it('client keys for every prefix', () => {
    assert.equal(clientKey('ip', 32), 'ip saddr');
    assert.equal(clientKey('ip', 20), 'ip saddr & 255.255.240.0');
    assert.equal(clientKey('ip', 0), 'ip saddr & 0.0.0.0');
    assert.equal(clientKey('ip6', 56), 'ip6 saddr & ffff:ffff:ffff:ff00:0:0:0:0');
  });
});

describe('transactions', () => {
  it('the first one replaces whatever a previous process left, in one go', () => {
    const { script } = transaction(null, render([nat()]));
    assert.deepEqual(script.split('\n').slice(0, 5), [
      'table inet furiwake {}', 'delete table inet furiwake', 'table netdev furiwake {}', 'delete table netdev furiwake', 'add table inet furiwake',
    ]);
  });

  it('later ones keep the table and its sets, replace every rule, and drop what is gone', () => {
    const persistence = { prefix: 24, timeout: 600_000, size: 1000 };
    const first = transaction(null, render([nat({ persistence, members: [member(0), member(1), member(2)] })]));
    const { script } = transaction(first.applied, render([nat({ persistence, members: [member(0), member(1)] })]));
    const lines = script.trim().split('\n');
    assert.ok(!lines.some((l) => l.startsWith('delete table') || l.startsWith('add table')), script);
    assert.ok(!lines.some((l) => /add set .* p\.www\.[01] /.test(l)), 'kept sets must not be made again');
    assert.ok(lines.includes('delete set inet furiwake p.www.2'));
    assert.ok(lines.includes('delete chain inet furiwake m.www.2'));
    assert.ok(lines.includes('flush chain inet furiwake svc.www'));
    // flushed before anything is deleted, so nothing still refers to what goes
    assert.ok(lines.indexOf('flush chain inet furiwake svc.www') < lines.indexOf('delete chain inet furiwake m.www.2'));
    assert.ok(lines.includes('add rule inet furiwake svc.www numgen inc mod 2 vmap { 0 : goto m.www.0, 1 : goto m.www.1 }'));
  });

  it('a set whose settings changed is made anew; the last service gone takes the table', () => {
    const first = transaction(null, render([nat({ persistence: { prefix: 24, timeout: 600_000, size: 1000 } })]));
    const changed = transaction(first.applied, render([nat({ persistence: { prefix: 24, timeout: 60_000, size: 1000 } })]));
    const lines = changed.script.split('\n');
    assert.ok(lines.indexOf('delete set inet furiwake p.www.0') < lines.indexOf('add set inet furiwake p.www.0 {'));
    assert.equal(transaction(changed.applied, render([])).script, 'delete table inet furiwake\n');
  });
});
