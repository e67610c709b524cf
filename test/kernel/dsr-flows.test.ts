// Ending dsr flows: the ids the connection table shows for them, and the nft script that ends
// them (dsr-flows.ts), without a kernel; then that script on the sets alone, in a namespace of
// its own (nft through a wrapper). The whole path is in dsr.test.ts.

import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { endFlow, endFlows, endScript, FlowIds } from '../../src/kernel/dsr-flows.ts';
import type { KernelServiceView } from '../../src/kernel/view.ts';
import { atEnd } from '../helpers/cleanup.ts';
import { tempDir } from '../helpers/files.ts';
import { Namespaces } from './namespaces.ts';

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

describe('ending dsr flows in the kernel', () => {
  it('when more tcp flows were ended than the ended set holds, the rest end all the same, without their reset; ending one twice says 0, and so does ending a member whose set a reload removed', async () => {
    const lab = new Namespaces();
    atEnd(() => lab.close());
    const ns = await lab.add('dsr');
    const nft = join(await tempDir('nft'), 'nft');
    await writeFile(nft, `#!/bin/sh\nexec ip netns exec ${ns} nft "$@"\n`);
    await chmod(nft, 0o755);
    // the sets render.ts makes for a service of max-flows 2 with two members
    const set = (name: string): string => `set ${name} { type ipv4_addr . inet_service; size 2; flags dynamic,timeout; timeout 60s; }`;
    await lab.run(ns, 'nft', ['-f', '-'], `table netdev furiwake {\n${set('e.www')}\n${set('f.www.2')}\n${set('f.www.3')}\n}\n`);
    const small = { ...view, flowSize: 2, members: [m, { ...m, number: 3, id: 's4', ip: '10.88.2.14' }] };
    const keys = (port: number) => [{ address: '10.88.1.10', port }, { address: '10.88.1.10', port: port + 1 }];
    const add = (member: number, port: number) => lab.run(ns, 'nft', ['add', 'element', 'netdev', 'furiwake', `f.www.${member}`, `{ 10.88.1.10 . ${port}, 10.88.1.10 . ${port + 1} }`]);
    const listed = async (name: string): Promise<string> => (await lab.run(ns, 'nft', ['list', 'set', 'netdev', 'furiwake', name])).stdout;
    await add(2, 1000);
    await add(3, 2000);
    // all flows of the service: s3's fill the ended set, s4's still end
    assert.equal(await endFlows(nft, small, small.members[0], keys(1000)), 2);
    assert.equal(await endFlows(nft, small, small.members[1], keys(2000)), 2);
    assert.doesNotMatch(await listed('f.www.3'), /elements/, "s4's flows are gone");
    assert.match(await listed('e.www'), /1000/);
    // one flow, with the ended set still full
    await add(2, 3000);
    assert.equal(await endFlow(nft, small, small.members[0], { address: '10.88.1.10', port: 3000 }), 1);
    assert.doesNotMatch(await listed('f.www.2'), /3000/);
    assert.equal(await endFlow(nft, small, small.members[0], { address: '10.88.1.10', port: 3000 }), 0, 'ended already');
    // a reload removed the member between the listing and the end: its set is gone
    await lab.run(ns, 'nft', ['delete', 'set', 'netdev', 'furiwake', 'f.www.3']);
    assert.equal(await endFlows(nft, small, small.members[1], keys(4000)), 0);
  });
});
