// What validate says of the host a node of a pair runs on: keepalived and conntrackd on PATH, the
// privilege, the interface and whether the VIPs are on its subnets. The host is this machine's
// loopback and an empty directory as PATH; the command line is run as a real process.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { haPreflight, hostView, type HostView } from '../../src/ha/preflight.ts';
import { furiwake } from '../helpers/process.ts';

let dir: string;
let tools: string;
let keepalivedOnly: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'furiwake-ha-preflight-'));
  tools = path.join(dir, 'bin');
  keepalivedOnly = path.join(dir, 'keepalived-only');
  // PATHs with stand-ins of the tools: preflight looks for them, never runs them
  await mkdir(tools);
  await mkdir(keepalivedOnly);
  for (const name of ['keepalived', 'conntrackd']) await writeFile(path.join(tools, name), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  await writeFile(path.join(keepalivedOnly, 'keepalived'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
});
after(() => rm(dir, { recursive: true, force: true }));

const POOL = 'pools:\n  web: { members: [ { address: 10.0.0.1:80 } ] }\n';

// lo's addresses are this host's only certain ones: the VIP is listed, as loopback is never a default VIP
function config(ha: string, services = '  www: { listen: 127.0.0.10:80, mode: tcp, pool: web }\n') {
  return parseConfig(`services:\n${services}${POOL}ha: ${ha}\n`, 'test.yaml', {});
}

/** This host's loopback, with the PATH and privilege a test chooses. */
function host(view: Partial<HostView>): HostView {
  return { ...hostView(), path: tools, netAdmin: true, ...view };
}

describe('ha preflight', () => {
  it('a host with everything: no error, no warning', () => {
    assert.deepEqual(haPreflight(config('{ interface: lo, router-id: 7, vips: [ 127.0.0.10 ] }'), host({})), { errors: [], warnings: [] });
  });

  it('keepalived missing names the Debian package', () => {
    const { errors } = haPreflight(config('{ interface: lo, router-id: 7, vips: [ 127.0.0.10 ] }'), host({ path: dir }));
    assert.deepEqual(errors, ['ha: keepalived not found on PATH: install it (Debian: apt-get install keepalived); furiwake runs it to move the VIPs between the nodes']);
  });

  it('no privilege', () => {
    const { errors } = haPreflight(config('{ interface: lo, router-id: 7, vips: [ 127.0.0.10 ] }'), host({ netAdmin: false }));
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^ha: moving VIPs adds and removes addresses on lo: it needs root or CAP_NET_ADMIN/);
  });

  it('an interface this host does not have', () => {
    const { errors, warnings } = haPreflight(config('{ interface: nosuch0, router-id: 7, vips: [ 127.0.0.10 ] }'), host({ addresses: { lo: networkInterfaces().lo, eth0: networkInterfaces().lo } }));
    // the interfaces it has, so that a typo or another naming (ens3, not eth0) shows at once
    assert.deepEqual(errors, ['ha.interface: there is no interface nosuch0 on this host (those with an address: eth0, lo; the name as `ip link` shows it)']);
    assert.deepEqual(warnings, []);
  });

  it('a VIP in no subnet of the interface is a warning naming the subnets', () => {
    assert.ok(networkInterfaces().lo?.some((a) => a.cidr === '127.0.0.1/8'), 'this test reads lo as 127.0.0.1/8');
    // lo alone: a VIP in the network of another interface of this host goes there (next test)
    const { errors, warnings } = haPreflight(config('{ interface: lo, router-id: 7, vips: [ 127.0.0.10, 192.0.2.77, "2001:db8::7" ] }'), host({ addresses: { lo: networkInterfaces().lo } }));
    assert.deepEqual(errors, []);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /^ha\.vips: 192\.0\.2\.77 is in no subnet of lo \(lo is on 127\.0\.0\.1\/8.*\): the neighbours on that link do not route it here/);
    assert.match(warnings[1], /^ha\.vips: 2001:db8::7 is in no subnet of lo/);
  });

  it('a VIP in the network of another interface is no warning: it goes on that interface', () => {
    const back = { address: '10.0.2.2', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:02', internal: false, cidr: '10.0.2.2/24' } as const;
    const view = host({ addresses: { lo: networkInterfaces().lo, eth1: [back] } });
    assert.deepEqual(haPreflight(config('{ interface: lo, router-id: 7, vips: [ 127.0.0.10, 10.0.2.254 ] }'), view).warnings, []);
  });

  it('on the master, a VIP the interface holds is not its own network', () => {
    const held = { address: '198.51.100.7', netmask: '255.255.255.255', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '198.51.100.7/32' } as const;
    const own = { ...held, address: '192.0.2.2', netmask: '255.255.255.0', cidr: '192.0.2.2/24' } as const;
    const view = host({ addresses: { lo: [own, held] } });
    const { warnings } = haPreflight(config('{ interface: lo, router-id: 7, vips: [ 198.51.100.7, 192.0.2.10 ] }'), view);
    assert.deepEqual(warnings, ['ha.vips: 198.51.100.7 is in no subnet of lo (lo is on 192.0.2.2/24): the neighbours on that link do not route it here, so clients reach it only through a route you add on your routers']);
    // a VIP that is the interface's own address with its network is on that network
    assert.deepEqual(haPreflight(config('{ interface: lo, router-id: 7, vips: [ 192.0.2.2 ] }'), view).warnings, []);
  });

  it('conntrackd missing matters only with a nat or dsr service and conntrack-sync on', () => {
    const nat = '  www: { listen: 127.0.0.10:80, mode: nat, pool: web }\n';
    const view = host({ path: keepalivedOnly });
    const { errors } = haPreflight(config('{ interface: lo, router-id: 7, vips: [ 127.0.0.10 ] }', nat), view);
    assert.deepEqual(errors, ['ha.conntrack-sync: conntrackd not found on PATH: install it (Debian: apt-get install conntrackd) so that connections of services.www survive a failover, or set conntrack-sync: false']);
    assert.ok(!haPreflight(config('{ interface: lo, router-id: 7, vips: [ 127.0.0.10 ], conntrack-sync: false }', nat), view).errors.some((e) => e.includes('conntrackd')));
    assert.ok(!haPreflight(config('{ interface: lo, router-id: 7, vips: [ 127.0.0.10 ] }'), view).errors.some((e) => e.includes('conntrackd')));
  });

  it('no ha section: nothing to check', () => {
    const plain = parseConfig(`services:\n  www: { listen: 127.0.0.1:80, mode: tcp, pool: web }\n${POOL}`, 'test.yaml', {});
    assert.deepEqual(haPreflight(plain, host({ path: dir, netAdmin: false })), { errors: [], warnings: [] });
  });
});

describe('furiwake validate with an ha section', () => {
  it('says what this host lacks, with exit 1, and the notes as warnings', async () => {
    const cfg = path.join(dir, 'pair.yaml');
    await writeFile(cfg, `services:\n  www: { listen: 127.0.0.10:80, mode: tcp, pool: web }\n${POOL}ha: { interface: nosuch0, router-id: 51, advert: 100ms, vips: [ 127.0.0.10 ] }\n`);
    const run = furiwake(['validate', '-c', cfg], { env: { PATH: dir } });
    assert.equal(await run.exit(), 1);
    assert.match(run.stderr, /pair\.yaml: cannot run here: ha: keepalived not found on PATH: install it \(Debian: apt-get install keepalived\)/);
    assert.match(run.stderr, /pair\.yaml: cannot run here: ha\.interface: there is no interface nosuch0 on this host/);
    assert.match(run.stderr, /pair\.yaml: warning: ha\.advert: 100ms needs VRRP version 3/);
    assert.match(run.stderr, /pair\.yaml: warning: ha\.router-id: 51 is the value of keepalived's sample config/);
    assert.equal(run.stdout, '');
  });

  it('a pair this host can run is valid', async () => {
    const cfg = path.join(dir, 'ok.yaml');
    await writeFile(cfg, `services:\n  www: { listen: 127.0.0.10:80, mode: tcp, pool: web }\n${POOL}ha: { interface: lo, router-id: 7, vips: [ 127.0.0.10 ] }\n`);
    const run = furiwake(['validate', '-c', cfg], { env: { PATH: `${tools}:${process.env.PATH ?? ''}` } });
    const code = await run.exit();
    if (process.getuid?.() !== 0) return; // without root the privilege error is the answer (tested above)
    assert.equal(code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /ok\.yaml: valid \(1 service, 1 pool\)/);
  });

  it('a rule of the section that spans keys is a config error with its line', async () => {
    const cfg = path.join(dir, 'family.yaml');
    await writeFile(cfg, `services:\n  www: { listen: 127.0.0.10:80, mode: tcp, pool: web }\n${POOL}ha:\n  interface: lo\n  router-id: 7\n  vips: [ 127.0.0.10 ]\n  peers: [ "2001:db8::2" ]\n`);
    const run = furiwake(['validate', '-c', cfg]);
    assert.equal(await run.exit(), 1);
    assert.match(run.stderr, /family\.yaml:9: ha\.peers\[0\]: 2001:db8::2 is IPv6 but the VIPs \(127\.0\.0\.10\) are IPv4/);
  });
});
