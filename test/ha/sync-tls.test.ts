// The ha sync link over mutual TLS: two nodes whose certificates one CA signed replicate as over
// plain TCP; a node whose certificate that CA did not sign is refused in the TLS handshake,
// counted as a failed authentication, and nothing it holds is applied.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';
import { createLogger } from '../../src/log.ts';
import { pool, single } from '../helpers/config.ts';
import { freePort } from '../helpers/ports.ts';
import { until } from '../helpers/wait.ts';
import { caSigned, certDir, selfSigned } from '../proxy/http/certs.ts';

const KEY = 'a-shared-key-of-32-characters-ok';
const apps: Furiwake[] = [];
after(() => Promise.all(apps.map((app) => app.stop(0))));

function config(listen: number, peer: number, tls: { cert: string; key: string; ca: string }): Config {
  const at = (port: number) => ({ host: '127.0.0.1', ip: '127.0.0.1', port });
  return {
    ...single('tcp', pool('round-robin', [{ port: 9, id: 'm1' }, { port: 10, id: 'm2' }]), {
      persistence: { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 600_000, maxEntries: 100 },
    }),
    ha: { vrrp: false, interface: '', routerId: 0, priority: 100, advert: 1000, preempt: true, peers: [], vips: null, sync: { listen: at(listen), peers: [at(peer)], key: KEY, tls }, conntrackSync: null },
  };
}

async function start(c: Config): Promise<Furiwake> {
  const app = await Furiwake.start(c, createLogger('silent'));
  apps.push(app);
  return app;
}

describe('ha sync over TLS', () => {
  it('replicates between nodes the CA signed, and refuses one it did not', async () => {
    const dir = certDir();
    const { ca, server } = caSigned(dir, ['DNS:node.test']);
    const stranger = selfSigned(dir, 'stranger', ['node.test']);
    const tls = { cert: server.cert, key: server.key, ca: ca.cert };
    const portA = await freePort();
    const portB = await freePort();
    const a = await start(config(portA, portB, tls));
    const b = await start(config(portB, portA, tls));
    await until(() => a.haSync!.status().peers[0].connected && b.haSync!.status().peers[0].connected);
    a.runtime.services.get('svc')!.persistence!.picked('192.0.2.1', a.runtime.member('p', 'm2')!);
    const tableB = b.runtime.services.get('svc')!.persistence!.table!;
    await until(() => tableB.peek('192.0.2.1') !== undefined);
    assert.equal(tableB.peek('192.0.2.1')!.member, 'm2');

    // a node with the key but a certificate of its own: its ca is its own certificate
    const portC = await freePort();
    const c = await start(config(portC, portA, { cert: stranger.cert, key: stranger.key, ca: stranger.cert }));
    c.runtime.services.get('svc')!.persistence!.picked('192.0.2.99', c.runtime.member('p', 'm1')!);
    await until(() => a.haSync!.status().peers.some((p) => p.authFailures > 0));
    assert.equal(a.runtime.services.get('svc')!.persistence!.table!.peek('192.0.2.99'), undefined);
    assert.equal(c.haSync!.status().peers[0].connected, false);
  });
});
