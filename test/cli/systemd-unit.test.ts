// The unit `furiwake systemd-unit` prints, sized for the config: the capabilities it needs and no
// more, root only for VRRP (keepalived), a descriptor limit for its bounds, a stop timeout past
// the shutdown grace, and paths quoted for systemd. (The packed package's unit is checked by
// systemd-analyze in test/package/pack.test.ts.)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemdUnit } from '../../src/cli/systemd-unit.ts';
import { parseConfig } from '../../src/config/load.ts';

const unit = (yaml: string, file = '/etc/furiwake/furiwake.yaml'): string =>
  systemdUnit({ configFile: file, config: parseConfig(yaml, 'c.yaml', {}), node: '/usr/bin/node', entry: '/usr/lib/node_modules/furiwake/bin/furiwake.js' });
const line = (text: string, key: string): string | undefined => text.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);

const POOL = 'pools:\n  p: { members: [ { address: "10.0.0.1:80" } ] }\n';

describe('furiwake systemd-unit', () => {
  it('a high port and no icmp: an unprivileged user with no capability at all', () => {
    const text = unit(`services:\n  s: { listen: "0.0.0.0:8080", mode: tcp, pool: p }\n${POOL}`);
    assert.equal(line(text, 'User'), 'furiwake');
    assert.equal(line(text, 'AmbientCapabilities'), undefined);
    assert.equal(line(text, 'CapabilityBoundingSet'), '');
    assert.equal(line(text, 'ExecStart'), '/usr/bin/node /usr/lib/node_modules/furiwake/bin/furiwake.js start -c /etc/furiwake/furiwake.yaml');
    assert.equal(line(text, 'WorkingDirectory'), '/etc/furiwake');
  });

  it('port 80, an icmp monitor, a nat service: one capability each, still not root', () => {
    const text = unit('services:\n  www: { listen: "0.0.0.0:80", mode: tcp, pool: p }\n  k: { listen: "192.0.2.10:8443", mode: nat, pool: p }\n' +
      'pools:\n  p: { members: [ { address: "10.0.0.1:80" } ], health: { monitors: [ { type: icmp } ] } }\n');
    assert.equal(line(text, 'AmbientCapabilities'), 'CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW');
    assert.equal(line(text, 'CapabilityBoundingSet'), 'CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW');
    assert.equal(line(text, 'User'), 'furiwake');
  });

  it('VRRP runs as root (keepalived adds the VIPs), with the capabilities bounded', () => {
    const text = unit(`ha: { interface: eth0, router-id: 9 }\nservices:\n  s: { listen: "192.0.2.10:8080", mode: tcp, pool: p }\n${POOL}`);
    assert.equal(line(text, 'User'), 'root');
    assert.match(line(text, 'CapabilityBoundingSet')!, /^CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW /);
    assert.equal(line(text, 'AmbientCapabilities'), undefined);
  });

  it('LimitNOFILE covers the bounds (udp flows, limited members, queues); TimeoutStopSec outlasts the grace', () => {
    const text = unit('global: { shutdown-grace: 60s }\nservices:\n  d: { listen: "0.0.0.0:5353", mode: udp, pool: p, max-flows: 200000 }\n' +
      'pools:\n  p: { members: [ { address: "10.0.0.1:53", max-connections: 50000 } ], queue: { max: 1000 } }\n');
    assert.equal(line(text, 'LimitNOFILE'), String(1024 + 200_000 + 2 * 50_000 + 2 * 1000));
    assert.equal(line(text, 'TimeoutStopSec'), '80s');
    const small = unit(`services:\n  s: { listen: "0.0.0.0:8080", mode: tcp, pool: p }\n${POOL}`);
    assert.equal(line(small, 'LimitNOFILE'), '65536');
  });

  it('with an admin section, start is finished once its API answers (ctl wait); without one there is no such check', () => {
    const text = unit(`admin: { listen: "0.0.0.0:9090", token: a-token-of-enough-length-0123456789 }\nservices:\n  s: { listen: "0.0.0.0:8080", mode: tcp, pool: p }\n${POOL}`);
    assert.equal(line(text, 'ExecStartPost'), '/usr/bin/node /usr/lib/node_modules/furiwake/bin/furiwake.js ctl --admin http://127.0.0.1:9090 wait 60');
    const v6 = unit(`admin: { listen: "[::1]:9090" }\nservices:\n  s: { listen: "0.0.0.0:8080", mode: tcp, pool: p }\n${POOL}`);
    assert.match(line(v6, 'ExecStartPost')!, / ctl --admin http:\/\/\[::1\]:9090 wait 60$/);
    assert.equal(line(unit(`services:\n  s: { listen: "0.0.0.0:8080", mode: tcp, pool: p }\n${POOL}`), 'ExecStartPost'), undefined);
  });

  it('quotes a path with spaces, and % as systemd needs it', () => {
    const text = unit(`services:\n  s: { listen: "0.0.0.0:8080", mode: tcp, pool: p }\n${POOL}`, '/etc/my lb/100%.yaml');
    assert.equal(line(text, 'ExecStart'), '/usr/bin/node /usr/lib/node_modules/furiwake/bin/furiwake.js start -c "/etc/my lb/100%%.yaml"');
  });
});
