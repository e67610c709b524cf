// tls-session persistence through a real tcp service, with OpenSSL on both sides: members are
// `openssl s_server -www` (each its own session cache), the client `openssl s_client -tls1_2`
// saving its session (-sess_out) and resuming it (-sess_in). A resumption only succeeds on the
// member that holds the session, so "Reused" in s_client's report is the proof of pinning.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { Furiwake } from '../../src/app.ts';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import { startApp } from '../helpers/app.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { handshake, memberCert, startTlsMember, type TlsMember } from '../helpers/openssl-tls.ts';

const TLS_SESSION: PersistenceConfig = { method: 'tls-session', whenFull: 'repin', timeout: 60_000, maxEntries: 1000 };

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'furiwake-tls-'));
  memberCert(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function tableOf(app: Furiwake) {
  return app.runtime.services.get('svc')!.stickTable!;
}

for (const tickets of [false, true]) {
  describeOnEachEngine(`tls-session persistence, TLS 1.2 ${tickets ? 'session tickets' : 'session IDs (s_server -no_ticket)'}`, () => {
    let members: TlsMember[];
    before(async () => {
      members = await Promise.all(['a', 'b', 'c'].map((n) => startTlsMember(dir, n, tickets)));
    });
    after(() => Promise.all(members.map((m) => m.close())));
    const specs = () => members.map((m) => ({ port: m.port, id: m.name }));

    it('without persistence, round-robin sends the resumption elsewhere: a full handshake', async () => {
      const app = await startApp(single('tcp', pool('round-robin', specs())));
      const port = app.address('svc').port;
      const session = join(dir, `control-${tickets}`);
      assert.equal((await handshake(port, session, false)).reused, false);
      assert.equal((await handshake(port, session, true)).reused, false);
    });

    it('resumptions land on the member that holds the session', async () => {
      const app = await startApp(single('tcp', pool('round-robin', specs()), { persistence: TLS_SESSION }));
      const port = app.address('svc').port;
      const session = join(dir, `pinned-${tickets}`);
      const first = await handshake(port, session, false);
      assert.equal(first.reused, false);
      for (let i = 0; i < 4; i++) assert.equal((await handshake(port, session, true)).reused, true, `resumption ${i + 1}`);
      await app.runtime.connections.drained();
      assert.equal(app.runtime.member('p', 'a')!.total, 5);
      const entries = tableOf(app).entries();
      assert.ok(entries.length >= 1 && entries.every((e) => e.member === 'a'), JSON.stringify(entries));
      assert.ok(entries.some((e) => e.key.startsWith(tickets ? 'ticket:' : 'id:')), JSON.stringify(entries));
      if (!tickets) assert.ok(entries.some((e) => e.key === `id:${first.id.toLowerCase()}`));
      assert.ok(tableOf(app).counters.hits >= 4);
    });

    it('re-pins when the member goes down: a full handshake elsewhere, then resumptions there', async () => {
      const app = await startApp(single('tcp', pool('round-robin', specs()), { persistence: TLS_SESSION }));
      const port = app.address('svc').port;
      const session = join(dir, `repin-${tickets}`);
      await handshake(port, session, false);
      assert.equal((await handshake(port, session, true)).reused, true);
      app.runtime.member('p', 'a')!.setHealth('down');
      assert.equal((await handshake(port, session, true)).reused, false);
      for (let i = 0; i < 3; i++) assert.equal((await handshake(port, session, true)).reused, true);
      await app.runtime.connections.drained();
      assert.equal(app.runtime.member('p', 'a')!.total, 2);
    });
  });
}

describeOnEachEngine('tls-session persistence and TLS 1.3', () => {
  let members: TlsMember[];
  before(async () => {
    members = await Promise.all(['a', 'b'].map((n) => startTlsMember(dir, n, true)));
  });
  after(() => Promise.all(members.map((m) => m.close())));

  it('learns nothing from a TLS 1.3 handshake (its session ID is the client\'s random one echoed)', async () => {
    const app = await startApp(single('tcp', pool('round-robin', members.map((m) => ({ port: m.port, id: m.name }))), { persistence: TLS_SESSION }));
    const port = app.address('svc').port;
    const session = join(dir, 'tls13');
    await handshake(port, session, false, '-tls1_3');
    await handshake(port, session, true, '-tls1_3');
    await app.runtime.connections.drained();
    assert.equal(tableOf(app).size, 0);
  });

  it('passes a client that sends no TLS at all straight through, unpinned', async () => {
    const app = await startApp(single('tcp', pool('round-robin', members.map((m) => ({ port: m.port, id: m.name }))), { persistence: TLS_SESSION }));
    const port = app.address('svc').port;
    const { exchange } = await import('../helpers/clients.ts');
    const reply = await exchange(port, 'GET / HTTP/1.0\r\n\r\n');
    // s_server answers plain text with a TLS alert or closes: what matters is the bytes reached it
    assert.ok(reply.ending === 'end' || reply.ending === 'reset');
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 'a')!.total, 1);
    assert.equal(tableOf(app).size, 0);
  });
});
