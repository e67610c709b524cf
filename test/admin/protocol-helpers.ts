// A service for the by-protocol views (metrics, API, dashboard): / goes to an HTTP/1.1 member
// (pool plain, member a), /h2c... to an h2c member (pool streams, member b), /none is answered
// 404 by furiwake itself; the service takes HTTP/2 by prior knowledge.

import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { startH2Member } from '../proxy/http/h2-members-helpers.ts';
import { startMember } from '../proxy/http/helpers.ts';
import { withWorkers } from '../workers/helpers.ts';

export async function protocolConfig(workers = 1): Promise<Config> {
  const h1 = await startMember('h1');
  const h2 = await startH2Member('h2');
  const text = `
services:
  svc:
    listen: 127.0.0.1:0
    mode: http
    pool: plain
    http2: { h2c: true }
    routes:
      - { name: h2c, match: { path-prefix: /h2c }, pool: streams }
      - { name: none, match: { path: /none }, respond: { status: 404, body: none } }
pools:
  plain: { members: [ { address: 127.0.0.1:${h1.port}, id: a } ] }
  streams: { member-protocol: h2c, members: [ { address: 127.0.0.1:${h2.port}, id: b } ] }
`;
  const parsed = parseConfig(text, 'test.yaml');
  return withWorkers({ ...parsed, global: { ...parsed.global, shutdownGrace: 0, logLevel: 'silent' } }, workers);
}
