// Log injection: the access log's fields a client chooses (its path, its request id, the client
// address X-Forwarded-For names behind a trusted proxy) with quotes, backslashes, encoded CR/LF,
// spaces, 8-bit bytes, addresses in odd spellings. Each request is one line, its values escaped
// (line format) or JSON strings, and no field can take the place of another.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseTemplate } from '../../../src/config/log-fields.ts';
import type { LogsConfig } from '../../../src/config/logs-types.ts';
import type { Config } from '../../../src/config/types.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { tempDir } from '../../helpers/files.ts';
import { fileLines } from '../../log/helpers.ts';
import { h2Connect, h2Request } from './h2-helpers.ts';
import { httpConfig, raw, startMember } from './helpers.ts';

async function setup(format: 'line' | 'json', file: string): Promise<number> {
  const m = await startMember('m');
  const parsed = parseTemplate('$client "$method $path" $status $request_id end');
  if (!parsed.ok) throw new Error(parsed.message);
  const logs: LogsConfig = {
    access: format === 'line'
      ? { format: 'line', fields: [], template: parsed.parts, to: { kind: 'file', path: file } }
      : { format: 'json', fields: ['client', 'method', 'path', 'status', 'request-id'], template: [], to: { kind: 'file', path: file } },
    process: { to: { kind: 'stdout' } }, syslog: null,
  };
  const c = httpConfig(pool('round-robin', [{ port: m.port }]), {
    trustedProxies: ['127.0.0.0/8'],
    requestId: { header: 'X-Request-Id', lower: 'x-request-id', keepIncoming: true, echo: false },
    http2: { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100 },
  });
  const app = await startApp({ ...c, logs } as Config);
  return app.address('svc').port;
}

const REQUESTS = [
  'GET /a"b\\c%0d%0a%22 HTTP/1.1\r\nHost: x\r\nX-Request-Id: id"with\\quote\r\nConnection: close\r\n\r\n',
  'GET /s HTTP/1.1\r\nHost: x\r\nX-Request-Id: two words\r\nX-Forwarded-For: 1.2.3.4 " 200 forged\r\nConnection: close\r\n\r\n',
  'GET /h HTTP/1.1\r\nHost: x\r\nX-Request-Id: \xe9\xff\r\nX-Forwarded-For: 2130706433, 0x7f.1\r\nConnection: close\r\n\r\n',
  'GET /x HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ::ffff:10.0.0.1\r\nConnection: close\r\n\r\n',
];

describe('client bytes in access log lines', () => {
  it('line format: one line per request, quotes, backslashes and controls escaped, no forged field', async () => {
    const file = join(await tempDir('inject'), 'access.log');
    const port = await setup('line', file);
    for (const r of REQUESTS) assert.equal((await raw(port, Buffer.from(r, 'latin1'))).status, 200);
    const session = h2Connect(port, false);
    assert.equal((await h2Request(session, { ':path': '/h2"\\q', 'x-request-id': 'h2"id' })).status, 200);
    session.close();
    const lines = await fileLines(file, REQUESTS.length + 1);
    assert.equal(lines.length, REQUESTS.length + 1, lines.join('\n'));
    for (const line of lines) assert.match(line, /^\S+ "GET \S+" 200 \S+ end$/, line);
    assert.equal(lines[0], '127.0.0.1 "GET /a\\x22b\\x5Cc%0d%0a%22" 200 id\\x22with\\x5Cquote end');
    // an id with a space or 8-bit bytes is not taken: a new one; garbage in X-Forwarded-For ends the chain at the peer
    assert.match(lines[1], /^127\.0\.0\.1 "GET \/s" 200 [0-9a-f]{16}-\w+ end$/);
    assert.match(lines[2], /^127\.0\.0\.1 "GET \/h" 200 [0-9a-f]{16}-\w+ end$/);
    assert.match(lines[3], /^10\.0\.0\.1 "GET \/x" 200 /);
    assert.equal(lines[4], '127.0.0.1 "GET /h2\\x22\\x5Cq" 200 h2\\x22id end');
  });

  it('json: each line parses, with the values as they came', async () => {
    const file = join(await tempDir('inject'), 'access.json');
    const port = await setup('json', file);
    for (const r of REQUESTS) assert.equal((await raw(port, Buffer.from(r, 'latin1'))).status, 200);
    const lines = await fileLines(file, REQUESTS.length);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(parsed[0], { client: '127.0.0.1', method: 'GET', path: '/a"b\\c%0d%0a%22', status: 200, 'request-id': 'id"with\\quote' });
    assert.deepEqual(parsed.map((p) => p.client), ['127.0.0.1', '127.0.0.1', '127.0.0.1', '10.0.0.1']);
  });
});
