// ip_nonlocal_bind, which an `ha` section turns on so that a backup's listeners bind the VIPs
// before it holds them: in a namespace of its own where it is off, furiwake turns it on and says
// so as a warning (it stays on after furiwake exits: every process of the namespace may then bind
// any address), and says nothing when it is on already; a node without VRRP leaves it alone.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Namespaces } from './namespaces.ts';

const PLANE = fileURLToPath(new URL('../../src/ha/plane.ts', import.meta.url));
const LOAD = fileURLToPath(new URL('../../src/config/load.ts', import.meta.url));
const LOG = fileURLToPath(new URL('../../src/log.ts', import.meta.url));
const RUNTIME = fileURLToPath(new URL('../../src/runtime/runtime.ts', import.meta.url));

/** Runs HaPlane.prepare() in the namespace; its log lines (JSON) and what it returned. */
const PREPARE = `
import { HaPlane } from ${JSON.stringify(PLANE)};
import { parseConfig } from ${JSON.stringify(LOAD)};
import { createLogger } from ${JSON.stringify(LOG)};
import { Runtime } from ${JSON.stringify(RUNTIME)};
const config = parseConfig(process.argv[1] + '\\nservices:\\n  www: { listen: "192.0.2.10:80", mode: tcp, pool: web }\\npools:\\n  web: { members: [ { address: "10.1.0.1:80" } ] }\\n', 't.yaml', {});
const runtime = new Runtime();
const problem = new HaPlane(runtime, createLogger('info', process.stdout)).prepare(config);
runtime.close();
console.log(JSON.stringify({ problem }));
`;

describe('ip_nonlocal_bind under an ha section', () => {
  const lab = new Namespaces();
  let ns: string;
  before(async () => {
    ns = await lab.add('nl');
  });
  after(() => lab.close());

  const lines = async (ha = 'ha: { interface: eth0, router-id: 9 }'): Promise<Record<string, unknown>[]> => {
    const { stdout } = await lab.run(ns, process.execPath, ['--input-type=module', '-e', PREPARE, ha]);
    return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  const sysctl = async (name: string): Promise<string> => (await lab.run(ns, 'sysctl', ['-n', name])).stdout.trim();

  it('is left alone on a node without VRRP (ha.sync only): it moves no address', async () => {
    assert.equal(await sysctl('net.ipv4.ip_nonlocal_bind'), '0');
    const said = await lines('ha: { sync: { listen: "127.0.0.1:7400", peers: ["127.0.0.2:7400"], key: "0123456789abcdef0123456789abcdef" } }');
    assert.deepEqual(said, [{ problem: null }]);
    assert.equal(await sysctl('net.ipv4.ip_nonlocal_bind'), '0');
  });

  it('is turned on with a warning that says it stays on, and nothing is said once it is on', async () => {
    assert.equal(await sysctl('net.ipv4.ip_nonlocal_bind'), '0');
    const first = await lines();
    assert.deepEqual(first.at(-1), { problem: null });
    const said = first.find((l) => typeof l.msg === 'string' && l.msg.startsWith('ha: turned on ip_nonlocal_bind'));
    assert.ok(said, JSON.stringify(first));
    assert.equal(said.level, 40, 'a warning');
    assert.match(String(said.msg), /stays on after furiwake exits/);
    assert.deepEqual(said.sysctls, ['net.ipv4.ip_nonlocal_bind', 'net.ipv6.ip_nonlocal_bind']);
    assert.equal(await sysctl('net.ipv4.ip_nonlocal_bind'), '1');
    assert.equal(await sysctl('net.ipv6.ip_nonlocal_bind'), '1');
    const again = await lines();
    assert.deepEqual(again, [{ problem: null }]);
  });
});
