// Running monitors against real loopback peers that answer with garbage: random bytes and
// mutations of a plausible reply, a few hundred per monitor. Every check must end with a failed
// result and a reason (never a throw or a rejection), and nothing may be left open afterwards.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import type { MonitorConfig } from '../../../src/config/health-types.ts';
import type { CheckResult, Monitor } from '../../../src/health/monitor.ts';
import type { AgentView } from '../../../src/runtime/events.ts';
import { createMonitor } from '../../../src/health/monitors/index.ts';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import { greeting } from '../../helpers/clients.ts';
import { pool, single } from '../../helpers/config.ts';
import { Fuzzer } from '../../helpers/fuzz.ts';
import { startTcpServer } from '../../helpers/servers.ts';
import { COMMON, target } from '../helpers-basic.ts';
import { memberReaches } from '../../helpers/app.ts';
import { checkHandles } from '../../helpers/handles.ts';
import { until } from '../../helpers/wait.ts';

/** the token no garbage reply contains: a match would be a pass */
const ALIVE = 'ALIVE-7f3a';
const DICTIONARY = ['\r\n', '\r\n\r\n', ' ', ':', '\x00', '\xff', 'Content-Length: ', '99999', 'SIP/2.0 ', 'HTTP/1.1 ', '200', '%', Buffer.from([0xc0, 0x0c]), Buffer.from([0, 0])];
const REPLIES = 300;

type Reply = (request: Buffer, f: Fuzzer) => Buffer;

/** Half random bytes, half mutations of `template(request)`. */
function garbage(template: Reply): Reply {
  return (request, f) => (f.int(2) === 0 ? f.bytes(f.int(600)) : f.mutate(template(request, f), DICTIONARY));
}

interface GarbagePeer {
  port: number;
  /** garbage replies sent so far */
  sent(): number;
  /** resolves once `n` requests in all have been answered */
  answered(n: number): Promise<void>;
  close(): Promise<void>;
}

/** Counts the requests a peer answered, for `answered(n)`. */
function answers(): { count(): void; answered(n: number): Promise<void> } {
  let requests = 0;
  const events = new EventEmitter();
  return {
    count: () => void events.emit('answered', ++requests),
    answered: (n) => until(() => requests >= n, events, 'answered'),
  };
}

/** A UDP peer answering each datagram with `burst` garbage datagrams. */
async function udpGarbage(seed: number, reply: Reply, burst: number): Promise<GarbagePeer> {
  const f = new Fuzzer(seed);
  const socket = dgram.createSocket('udp4');
  const { count, answered } = answers();
  let sent = 0;
  socket.on('message', (request, from) => {
    for (let i = 0; i < burst; i++, sent++) socket.send(reply(request, f), from.port, from.address);
    count();
  });
  socket.on('error', () => {});
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { port: socket.address().port, sent: () => sent, answered, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

/** A TCP peer that answers the first bytes of each connection with one garbage reply, then closes or stays. */
async function tcpGarbage(seed: number, reply: Reply, alwaysEnd = false): Promise<GarbagePeer> {
  const f = new Fuzzer(seed);
  const sockets = new Set<net.Socket>();
  const { count, answered } = answers();
  let sent = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (request: Buffer) => {
      sent++;
      const bytes = reply(request, f);
      if (alwaysEnd || f.int(2) === 0) socket.end(bytes);
      else socket.write(bytes);
      count();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    sent: () => sent,
    answered,
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * Runs `count` checks against `peer`, `parallel` at a time; those still waiting `timeout` ms after
 * the peer answered the whole batch are aborted, like the scheduler does. The clock starts at the
 * answers, not at the requests, so a busy machine slows the barrage without changing what it sends.
 */
async function barrage(monitor: Monitor, peer: GarbagePeer, count: number, parallel = 50, timeout = 100): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (let done = 0; done < count; done += parallel) {
    const controllers = Array.from({ length: Math.min(parallel, count - done) }, () => new AbortController());
    const batch = Promise.all(controllers.map(async (controller) => {
      const result = await monitor.run(target(peer.port), controller.signal);
      return controller.signal.aborted ? { up: false, reason: `timeout after ${timeout} ms` } : result;
    }));
    // (the bound only keeps a lost datagram from holding the barrage forever)
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([peer.answered(done + controllers.length), batch, new Promise((resolve) => (bound = setTimeout(resolve, 5_000)))]);
    clearTimeout(bound);
    const timer = setTimeout(() => controllers.forEach((c) => c.abort()), timeout);
    results.push(...(await batch));
    clearTimeout(timer);
  }
  return results;
}

function assertAllFailed(results: CheckResult[], expected: RegExp): void {
  for (const r of results) {
    assert.equal(r.up, false, `a garbage reply passed: ${r.reason}`);
    assert.ok(r.reason.length > 0);
    assert.doesNotMatch(r.reason, /[\x00-\x1f\x7f]/, 'a reason carries control characters');
  }
  // the replies were read, not only waited out
  assert.ok(results.some((r) => expected.test(r.reason)), `no reason like ${expected}: ${[...new Set(results.map((r) => r.reason))].slice(0, 8).join(' | ')}`);
}

const monitor = (config: Record<string, unknown>): Monitor => createMonitor({ ...COMMON, ...config } as MonitorConfig);

// --- plausible replies, which the mutations start from; none of them passes ---

function sipHeaders(request: Buffer): string {
  const lines = request.toString('latin1').split('\r\n');
  const keep = lines.filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
  return `SIP/2.0 503 Service Unavailable\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`;
}

const radius = createRequire(import.meta.url)('radius') as {
  decode(args: { packet: Buffer; secret: string }): unknown;
  encode_response(args: { packet: unknown; code: string; secret: string }): Buffer;
};

function dnsAnswer(request: Buffer): Buffer {
  const query = dnsPacket.decode(request);
  return dnsPacket.encode({
    type: 'response', id: query.id, flags: dnsPacket.RECURSION_DESIRED, questions: query.questions,
    answers: [{ type: 'A', name: 'www.example.com', ttl: 60, data: '10.0.0.1' }],
  });
}

function framed(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

const DNS = { type: 'dns', name: 'www.example.com', queryType: 'A', expectRcode: 'NOERROR', expectAnswer: '192.0.2.99' };
const SIP = { type: 'sip', method: 'OPTIONS', uri: null, user: 'probe', expectStatus: [200] };

describe('monitors against peers that answer garbage', { timeout: 60_000 }, () => {
  checkHandles();

  it('over UDP: sip, radius, dns and udp monitors fail every check with a reason', async () => {
    const cases: [string, Monitor, Reply, RegExp][] = [
      ['sip', monitor({ ...SIP, transport: 'udp' }), (r) => Buffer.from(sipHeaders(r), 'latin1'), /^(malformed SIP response: |SIP 5)/],
      ['radius', monitor({ type: 'radius', secret: 'testing123', username: 'probe', password: 'pw', nasIdentifier: 'furiwake', expect: 'accept' }),
        (r) => radius.encode_response({ packet: radius.decode({ packet: r, secret: 'testing123' }), code: 'Access-Reject', secret: 'testing123' }),
        /^(malformed RADIUS response: |RADIUS )/],
      ['dns', monitor({ ...DNS, transport: 'udp' }), dnsAnswer, /^(malformed DNS response: |no answer matched|rcode )/],
      ['udp', monitor({ type: 'udp', send: Buffer.from('PING'), expect: { kind: 'string', value: ALIVE } }), () => Buffer.from('PONG but not alive'), /^reply did not match/],
    ];
    let seed = 1;
    for (const [name, m, template, expected] of cases) {
      // each check gets a burst, so garbage the monitor ignores (another ID) is followed by more
      const peer = await udpGarbage(seed++, garbage(template), 2);
      const results = await barrage(m, peer, REPLIES / 2);
      await peer.close();
      assert.ok(peer.sent() >= REPLIES, `${name}: only ${peer.sent()} replies sent`);
      assertAllFailed(results, expected);
    }
  });

  it('over TCP: sip, dns, tcp and http monitors fail every check with a reason', async () => {
    const cases: [string, Monitor, Reply, RegExp][] = [
      ['sip', monitor({ ...SIP, transport: 'tcp' }), (r) => Buffer.from(sipHeaders(r), 'latin1'), /^(malformed SIP response|SIP 5|connection closed)/],
      ['dns', monitor({ ...DNS, transport: 'tcp' }), (r) => framed(dnsAnswer(r.subarray(2))), /^(malformed DNS response: |no answer matched|rcode |DNS response did not match)/],
      ['tcp', monitor({ type: 'tcp', send: Buffer.from('PING\r\n'), expect: { kind: 'string', value: ALIVE } }), () => Buffer.from('+PONG, not alive\r\n'), /^(reply did not match|connection closed)/],
      ['http', monitor({
        type: 'http', method: 'GET', path: '/health', host: null, headers: {}, body: null, expectStatus: [[200, 399]],
        expectBody: { kind: 'string', value: ALIVE }, maxBody: 65536, tls: { sni: null, verify: true, ca: null, cert: null, key: null },
      }), () => Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nnot the one\n'), /^(invalid HTTP response|body did not match|status )/],
    ];
    let seed = 100;
    for (const [name, m, template, expected] of cases) {
      const peer = await tcpGarbage(seed++, garbage(template));
      const results = await barrage(m, peer, REPLIES);
      await peer.close();
      assert.ok(peer.sent() >= REPLIES * 0.9, `${name}: only ${peer.sent()} replies sent`);
      assertAllFailed(results, expected);
    }
  });

  it('the agent: hundreds of garbage replies keep the member\'s agent state valid and shown without control characters', async () => {
    const member = await startTcpServer('a');
    const words = garbage(() => Buffer.from('drain 50% maxconn:10 # rolling restart\n', 'latin1'));
    const f = new Fuzzer(7);
    let app: Furiwake | undefined;
    const views: AgentView[] = [];
    const enough = Promise.withResolvers<void>();
    // each time the agent is asked: what the member shows from the replies before, then garbage
    // (and, once enough were sent, a sound reply)
    const agent = await tcpGarbage(8, (request) => {
      const view = app?.runtime.member('p', 'a')?.agent;
      if (view) views.push(view);
      if (agent.sent() < REPLIES) return words(request, f);
      enough.resolve();
      return Buffer.from('ready up 100%\n');
    }, true);
    // the agent is asked with `send` written: the peer answers what it hears
    app = await Furiwake.start(single('tcp', pool('weighted-round-robin', [{ port: member.port, id: 'a', weight: 4 }], {}, {
      health: { require: { kind: 'all' }, monitors: [], agent: { port: agent.port, interval: 1, timeout: 100, send: 'hello\n' }, initialState: 'checking' },
    })), createLogger('silent'));
    try {
      await enough.promise;
      await memberReaches(app, 'p', 'a', (x) => x.agent?.state === 'ready' && x.weight === 4);
      assert.ok(views.length >= REPLIES - 1);
      for (const view of views) {
        assert.doesNotMatch(view.message, /[\x00-\x1f\x7f-\x9f]/);
        assert.ok(view.message.length <= 1024);
        assert.ok(Number.isInteger(view.percent) && view.percent >= 0 && view.percent <= 256);
        assert.ok(view.maxConnections === null || (Number.isInteger(view.maxConnections) && view.maxConnections <= 999_999_999));
      }
      // the member still serves (an agent's maxconn of 0 means no limit; any other lets one in)
      assert.equal(await greeting(app.address('svc').port), 'a');
    } finally {
      await app.stop(0);
      await agent.close();
      await member.close();
    }
  });
});
