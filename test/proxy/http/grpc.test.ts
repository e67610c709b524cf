// gRPC through furiwake: an h2c service in front of grpc-js servers (pool member-protocol h2c),
// balanced per call over one client channel, trailers (grpc-status) intact, deadlines honoured,
// furiwake's own errors as gRPC statuses.

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import { logSink } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { until } from '../../helpers/wait.ts';
import { h2Connect, h2cService, h2Request } from './h2-helpers.ts';
import { httpConfig } from './helpers.ts';
import { call, grpcClient, startGrpcMember } from './grpc-helpers.ts';
import { startH2Member } from './h2-members-helpers.ts';

describe('gRPC over HTTP/2 members', () => {
  it('spreads 1,000 unary calls on one channel over 3 servers by round-robin', async () => {
    const members = await Promise.all(['a', 'b', 'c'].map(startGrpcMember));
    const { port } = await h2cService(pool('round-robin', members.map((m) => ({ port: m.port, id: m.name })), {}, { memberProtocol: 'h2c' }));
    const client = grpcClient(port);
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => call(client.Unary, client, `n${i}`)));
    const by: Record<string, number> = {};
    for (const a of answers) {
      assert.ok('ok' in a, JSON.stringify(a));
      const [who, n] = a.ok.split(' ');
      assert.match(n, /^n\d+$/);
      by[who] = (by[who] ?? 0) + 1;
    }
    for (const m of members) assert.ok(m.calls >= 300 && m.calls <= 367, `${m.name}: ${m.calls}`);
    assert.deepEqual(Object.values(by).reduce((s, n) => s + n, 0), 1000);
  });

  it('passes a server-streaming call and error statuses through intact', async () => {
    const m = await startGrpcMember('a');
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }));
    const client = grpcClient(port);
    const got: string[] = [];
    const stream = client.Stream(Buffer.from('50'));
    stream.on('data', (b: Buffer) => got.push(b.toString()));
    const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    assert.equal(status.code, grpc.status.OK);
    assert.equal(got.length, 50);
    assert.equal(got[49], 'a 49');
    // a trailers-only answer (grpc-status in the head) reaches the client as its status
    const failed = await call(client.Fail, client, String(grpc.status.NOT_FOUND));
    assert.deepEqual(failed, { code: grpc.status.NOT_FOUND, details: 'failed by a' });
  });

  it('answers UNAVAILABLE (HTTP 200 and grpc-status 14, not an HTML 503) when no member can take the call', async () => {
    const m = await startGrpcMember('a');
    const gone = m.port;
    await m.close();
    const { port } = await h2cService(pool('round-robin', [{ port: gone }], {}, { memberProtocol: 'h2c' }));
    const client = grpcClient(port);
    const res = await call(client.Unary, client, 'x');
    assert.ok('code' in res);
    assert.equal(res.code, grpc.status.UNAVAILABLE);
    const session = h2Connect(port, false);
    const raw = await h2Request(session, { ':method': 'POST', ':path': '/test.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers' }, Buffer.from([0, 0, 0, 0, 1, 0x78]));
    session.close();
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['content-type'], 'application/grpc');
    assert.equal(raw.headers['grpc-status'], '14');
    assert.match(decodeURIComponent(String(raw.headers['grpc-message'])), /cannot connect to a member/);
  });

  it('gives up at the grpc-timeout with DEADLINE_EXCEEDED, and the call to the member is cancelled', async () => {
    const m = await startGrpcMember('a');
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }));
    const client = grpcClient(port);
    const res = await call(client.Slow, client, '60000', 300);
    assert.ok('code' in res);
    assert.equal(res.code, grpc.status.DEADLINE_EXCEEDED);
    await until(() => m.cancelled === 1, m.events, 'cancelled');
    // a member that ignores the deadline, and a client with none of its own: furiwake answers, and cancels the member's stream
    let closed: (code: number) => void = () => {};
    const memberClosed = new Promise<number>((resolve) => (closed = resolve));
    const silent = await startH2Member('silent', (stream) => stream.on('close', () => closed(stream.rstCode)));
    const app2 = await h2cService(pool('round-robin', [{ port: silent.port }], {}, { memberProtocol: 'h2c' }));
    const session = h2Connect(app2.port, false);
    const raw = await h2Request(session, { ':method': 'POST', ':path': '/test.Echo/Slow', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '300m' }, Buffer.from([0, 0, 0, 0, 1, 0x31]));
    session.close();
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['grpc-status'], '4');
    assert.equal(await memberClosed, http2.constants.NGHTTP2_CANCEL);
  });

  it('logs a call cut off at its grpc-timeout as 504 (furiwake gave up), not 499 (the client went)', async () => {
    const silent = await startH2Member('silent', () => {});
    const { sink, lines } = logSink();
    const config = httpConfig(pool('round-robin', [{ port: silent.port, id: 'm1' }], {}, { memberProtocol: 'h2c' }), { http2: { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100 } });
    const app = await Furiwake.start(config, createLogger('info', sink));
    after(() => app.stop(0));
    const session = h2Connect(app.address('svc').port, false);
    const raw = await h2Request(session, { ':method': 'POST', ':path': '/test.Echo/Slow', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '200m' }, Buffer.from([0, 0, 0, 0, 1, 0x31]));
    session.close();
    assert.equal(raw.headers['grpc-status'], '4');
    await until(() => lines.some((l) => l.msg === 'request'), sink, 'line');
    const line = lines.find((l) => l.msg === 'request')!;
    assert.deepEqual([line.path, line.member, line.memberProtocol, line.status], ['/test.Echo/Slow', 'm1', 'h2c', 504]);
  });
});
