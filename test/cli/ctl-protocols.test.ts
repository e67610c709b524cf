// furiwake ctl connections names an http client's HTTP version and, while a request is under
// way, how its member is spoken to (over h2c), in process against a real service.

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { runCtl } from '../../src/cli/ctl.ts';
import { pool } from '../helpers/config.ts';
import { startAdminApp, TOKEN } from '../admin/helpers.ts';
import { h2Connect } from '../proxy/http/h2-helpers.ts';
import { startH2Member } from '../proxy/http/h2-members-helpers.ts';
import { httpConfig } from '../proxy/http/helpers.ts';

async function ctl(admin: string, args: string[]): Promise<string> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const code = await runCtl(['--admin', admin, '--token', TOKEN, ...args], {}, out, err);
  assert.equal(code, 0, String(err.read() ?? ''));
  return Buffer.concat(chunks).toString();
}

describe('furiwake ctl connections: protocols', () => {
  it("shows an HTTP/2 client's version and its request's member over h2c", async () => {
    let arrived!: () => void;
    const held = new Promise<void>((resolve) => (arrived = resolve));
    // the member holds its answer: the request stays in progress
    const m = await startH2Member('m', () => arrived());
    const config = httpConfig(pool('round-robin', [{ port: m.port, id: 'm' }], {}, { memberProtocol: 'h2c' }), { http2: { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100 } });
    const { app, base } = await startAdminApp({ ...config, global: { ...config.global, shutdownGrace: 0 } });
    const session = h2Connect(app.address('svc').port, false);
    const req = session.request({ ':path': '/slow' });
    req.on('error', () => {});
    await held;
    const rows = (await ctl(base, ['connections'])).split('\n').filter((l) => l.includes('/slow'));
    assert.equal(rows.length, 1);
    assert.match(rows[0], /127\.0\.0\.1:\d+ HTTP\/2\s+->.* p\/m over h2c GET \/slow/);
    req.close();
    session.close();
  });
});
