// nginx as the member: what a production server sees of furiwake. nginx reports on which of its
// connections each request came ($connection) and how many that connection carried, so member
// keep-alive is seen from the member's side; a file comes through whole, and a gzip response
// that nginx sends chunked reaches the client intact.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { freePort } from '../../helpers/ports.ts';
import { bodyOf, connection, headerOf, httpConfig } from './helpers.ts';
import { tempDir } from '../../helpers/files.ts';
import { startNginx } from '../../helpers/nginx.ts';

const FILE = Buffer.alloc(1024 * 1024 + 17, 'furiwake');
const TEXT = 'furiwake streams text through nginx gzip\n'.repeat(5000);

/** nginx serving FILE and TEXT, gzip on, and /conn: its connection number and the requests on it. */
async function fileServer(): Promise<number> {
  const dir = await tempDir('nginx');
  await mkdir(join(dir, 'www'));
  await writeFile(join(dir, 'www', 'file.bin'), FILE);
  await writeFile(join(dir, 'www', 'text.txt'), TEXT);
  const nginx = await startNginx(dir, `
    root ${dir}/www;
    location = /conn { default_type text/plain; return 200 "$connection $connection_requests"; }`, `
  keepalive_requests 10000;
  gzip on;
  gzip_types text/plain;
  gzip_min_length 0;
  types { text/plain txt; application/octet-stream bin; }`);
  return nginx.port;
}

const nginxPort = await fileServer();

describeOnEachEngine('nginx as the member', () => {
  it('sees one kept connection carry the requests of many clients', async () => {
    const app = await startApp(httpConfig(pool('round-robin', [{ port: nginxPort }])));
    const seen: string[] = [];
    for (let client = 0; client < 3; client++) {
      const c = await connection(app.address('svc').port);
      for (let i = 0; i < 4; i++) seen.push(bodyOf(await c.send('GET /conn HTTP/1.1\r\nHost: x\r\n\r\n')));
      await c.close();
    }
    const [conn] = seen[0].split(' ');
    assert.deepEqual(seen, Array.from({ length: 12 }, (_, i) => `${conn} ${i + 1}`));
  });

  it('passes a 1 MiB file whole, and a gzip body nginx sends chunked', async () => {
    const app = await startApp(httpConfig(pool('round-robin', [{ port: nginxPort }])));
    const port = app.address('svc').port;
    const file = await request(`http://127.0.0.1:${port}/file.bin`);
    assert.equal(file.headers['content-length'], String(FILE.length));
    const got = Buffer.from(await file.body.arrayBuffer());
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(FILE).digest('hex'));

    const c = await connection(port);
    const text = await c.send('GET /text.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n', (t) => t.endsWith('\r\n0\r\n\r\n'));
    await c.close();
    assert.equal(headerOf(text, 'transfer-encoding'), 'chunked');
    assert.equal(headerOf(text, 'content-encoding'), 'gzip');
    // undo the chunks, then the gzip
    const raw = Buffer.from(bodyOf(text), 'latin1');
    const parts: Buffer[] = [];
    for (let at = 0; ;) {
      const eol = raw.indexOf('\r\n', at);
      const size = parseInt(raw.subarray(at, eol).toString(), 16);
      if (size === 0) break;
      parts.push(raw.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    assert.equal(gunzipSync(Buffer.concat(parts)).toString(), TEXT);
  });
});
