// Ending dsr flows, without a kernel: the ids the connection table shows for them, and the nft
// script that ends them (dsr-flows.ts). The kernel's side is in dsr.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endScript, FlowIds } from '../../src/kernel/dsr-flows.ts';
import type { KernelServiceView } from '../../src/kernel/view.ts';

const view: KernelServiceView = {
  name: 'www', mode: 'dsr', protocol: 'tcp', family: 'ip', vip: '10.88.2.100', port: 80, method: 'round-robin',
  members: [{ number: 2, id: 's3', ip: '10.88.2.13', port: 80, weight: 1, backup: false, usable: true, serves: true }],
  persistence: null, sourceNat: false, interface: 'eth0', idle: 300_000, flowSize: 65536, flushOnDown: false, accepting: true,
};
const m = view.members[0];

describe('dsr flow ids', () => {
  it('above conntrack\'s 32-bit ids, kept while a flow is listed, new for a flow seen again after it was gone', () => {
    const ids = new FlowIds();
    const a = { address: '10.88.1.10', port: 40000 };
    const b = { address: '10.88.1.10', port: 40001 };
    const [first, second] = ids.assign('www', [a, b]);
    assert.ok(first > 2 ** 32 && second > first);
    assert.deepEqual(ids.assign('www', [b, a]), [second, first]);
    // another service's flow of the same client address:port is another flow
    const [other] = ids.assign('dns', [a]);
    assert.ok(other !== first && other !== second);
    assert.deepEqual(ids.assign('www', [b]), [second]);
    const [again] = ids.assign('www', [a]);
    assert.ok(again > other);
    ids.keep(new Set(['www']));
    assert.notEqual(ids.assign('dns', [a])[0], other);
  });
});

describe('the script that ends dsr flows', () => {
  it('tcp: into the ended set, out of the flow set, in one transaction', () => {
    assert.equal(endScript(view, m, [{ address: '10.88.1.10', port: 40000 }], false),
      'add element netdev furiwake e.www { 10.88.1.10 . 40000 }\ndelete element netdev furiwake f.www.2 { 10.88.1.10 . 40000 }\n');
    assert.equal(endScript(view, m, [{ address: '10.88.1.10', port: 40000 }, { address: '10.88.1.11', port: 5 }], true),
      'add element netdev furiwake e.www { 10.88.1.10 . 40000, 10.88.1.11 . 5 }\nflush set netdev furiwake f.www.2\n');
  });

  it('udp: only out of the flow set; IPv6 keys as they are', () => {
    const udp6 = { ...view, protocol: 'udp' as const, family: 'ip6' as const };
    assert.equal(endScript(udp6, m, [{ address: 'fd88:1::10', port: 5353 }], false), 'delete element netdev furiwake f.www.2 { fd88:1::10 . 5353 }\n');
  });

  it('refuses a key that is not an address of the family and a port 1-65535 before nft sees it', () => {
    for (const bad of [
      { address: 'fd88:1::10', port: 1 }, { address: '10.88.1.10 }; flush ruleset; {', port: 1 }, { address: '10.88.1.10', port: 0 },
      { address: '10.88.1.10', port: 65536 }, { address: '10.88.1.10', port: 1.5 }, { address: '', port: 1 },
    ]) {
      assert.throws(() => endScript(view, m, [bad], false), /not a flow of www/, JSON.stringify(bad));
    }
  });
});
