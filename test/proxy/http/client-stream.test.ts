// The exchange speaks to its client only through ClientStream: a second client protocol plugs in
// by implementing it. Here a stream that takes responses as messages (payload alone, trailers
// apart, as an HTTP/2 stream would) drives exchanges against real members on loopback; our own
// answers (502, 503) come through the same interface.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Endpoint } from '../../../src/runtime/connection-table.ts';
import type { Member } from '../../../src/runtime/member.ts';
import { Runtime } from '../../../src/runtime/runtime.ts';
import { createLogger } from '../../../src/log.ts';
import { socketEngine } from '../../../src/proxy/socket-stream.ts';
import type { ClientStream } from '../../../src/proxy/http/client-stream.ts';
import type { HttpServiceContext } from '../../../src/proxy/http/context.ts';
import { Exchange } from '../../../src/proxy/http/exchange.ts';
import { MemberConnections } from '../../../src/proxy/http/member-connections.ts';
import { parseRequestHead } from '../../../src/proxy/http/request-head.ts';
import type { ResponseHead } from '../../../src/proxy/http/response-head.ts';
import { freePort } from '../../helpers/ports.ts';
import { pool } from '../../helpers/config.ts';
import { httpConfig, startMember } from './helpers.ts';

/** What a message-level client stream was given. */
interface Answer {
  status: number;
  retryAfter: number | undefined;
  message: string;
  fields: string;
  payload: string;
  trailers: string;
  reusable: boolean;
}

/** A client stream that takes the payload alone and keeps what it gets; `done` settles at exchangeDone. */
class MessageStream implements ClientStream {
  readonly client: Endpoint = { address: '192.0.2.10', port: 40000 };
  readonly forwardedClient = '192.0.2.10';
  readonly hash = 7;
  readonly https = false;
  readonly serverName = null;
  readonly http2 = false;
  readonly countedAlone = false;
  member: Member | null = null;
  readonly bytesIn = 0;
  readonly bytesOut = 0;
  readonly requestStart = Date.now();
  readonly answer: Answer = { status: 0, retryAfter: undefined, message: '', fields: '', payload: '', trailers: '', reusable: false };
  readonly done: Promise<Answer>;
  #settle!: (a: Answer) => void;

  constructor() {
    this.done = new Promise((resolve) => (this.#settle = resolve));
  }

  passesRawBody(): boolean {
    return false;
  }
  sendInterim(): boolean {
    return true;
  }
  sendHead(res: ResponseHead, _requestDone: boolean, body: Buffer | null, end: number): boolean {
    this.answer.status = res.status;
    this.answer.fields = res.fields;
    if (body !== null) this.answer.payload += body.toString('latin1', 0, end);
    return true;
  }
  sendBody(chunk: Buffer): boolean {
    this.answer.payload += chunk.toString('latin1');
    return true;
  }
  sendTrailers(fields: string): void {
    this.answer.trailers += fields;
  }
  sendError(status: number, message: string, _requestDone: boolean, retryAfter: number | undefined): void {
    Object.assign(this.answer, { status, message, retryAfter });
  }
  refuse(): boolean {
    return false;
  }
  sendRedirect(status: number): void {
    this.answer.status = status;
  }
  sendResponse(status: number, _type: string, body: string): void {
    Object.assign(this.answer, { status, payload: body });
  }
  startTunnel(): void {
    throw new Error('no tunnel in these tests');
  }
  pauseReading(): void {}
  resumeReading(): void {}
  setDeadline(): void {}
  exchangeDone(reusable: boolean): void {
    this.answer.reusable = reusable;
    this.#settle(this.answer);
  }
  destroy(): void {}
  crash(err: unknown): void {
    throw err;
  }
}

/** Runs `GET /` through an exchange of service `svc` in front of members on `ports`. */
async function exchange(ports: number[]): Promise<Answer> {
  const runtime = new Runtime();
  runtime.apply(httpConfig(pool('round-robin', ports.map((port) => ({ port })))));
  const members = new MemberConnections(socketEngine);
  after(() => {
    members.close();
    runtime.close();
  });
  const ctx: HttpServiceContext = { service: runtime.services.get('svc')!, members, log: createLogger('silent'), counts: null };
  const req = parseRequestHead('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n', { requestLine: 8192, headers: 32768 }, true);
  const stream = new MessageStream();
  new Exchange(ctx, stream, req, false).start();
  return stream.done;
}

describe('an exchange through a message-level client stream', () => {
  it('gets the payload without the chunk framing, then the trailers apart', async () => {
    const m = await startMember('a', (_req, res) => {
      res.write('part1 ');
      res.addTrailers({ 'x-sum': '11' });
      res.end('part2');
    });
    const got = await exchange([m.port]);
    assert.equal(got.status, 200);
    assert.equal(got.payload, 'part1 part2');
    assert.equal(got.trailers, 'x-sum: 11\r\n');
    assert.doesNotMatch(got.fields, /transfer-encoding/i, 'the framing is not among the fields');
    assert.equal(got.reusable, true);
  });

  it('gets a Content-Length body as it came', async () => {
    const m = await startMember('a');
    const got = await exchange([m.port]);
    assert.deepEqual([got.status, got.payload, got.trailers], [200, 'a GET /', '']);
  });

  it('gets our own answers through the same interface: 502 when no member answers, 503 when none is usable', async () => {
    const failed = await exchange([await freePort()]);
    assert.equal(failed.status, 502);
    assert.match(failed.message, /cannot connect to a member/);
    const none = await exchange([]);
    assert.deepEqual([none.status, none.retryAfter], [503, 1]);
  });
});
