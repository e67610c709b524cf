// Which stream engine the tcp plane runs on, and the handles engine's own edges.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { greeting } from '../helpers/clients.ts';
import { furiwake, type Run } from '../helpers/process.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import { loadBindings } from '../../src/proxy/handle-bindings.ts';
import { loadHandleEngine } from '../../src/proxy/handle-engine.ts';
import { socketEngine } from '../../src/proxy/socket-stream.ts';
import { chooseStreamEngine, HANDLES_TESTED_ON, streamEngine } from '../../src/proxy/stream-engine.ts';
import type { StreamEngine, StreamOwner } from '../../src/proxy/stream.ts';

describe('stream engine choice', () => {
  it('runs on Node 24\'s stream handles by default, and on net.Socket when asked', () => {
    assert.equal(loadHandleEngine().name, 'handles', 'this Node has the TCP stream handles');
    assert.equal(streamEngine(undefined).name, 'handles');
    assert.equal(streamEngine('auto').name, 'handles');
    assert.equal(streamEngine('handles').name, 'handles');
    assert.equal(streamEngine('sockets').name, 'sockets');
  });

  it('refuses an unknown engine by name', () => {
    assert.throws(() => streamEngine('epoll'), /FURIWAKE_TCP_ENGINE: expected auto, handles or sockets, got "epoll"/);
  });

  const handles = (): StreamEngine => loadHandleEngine();
  const on24 = { major: HANDLES_TESTED_ON, bindingsWarn: false };
  const cannotLoad = (): StreamEngine => {
    throw new Error('process.binding() failed: Access to this API has been restricted');
  };

  it(`chooses handles by itself on Node.js ${HANDLES_TESTED_ON} only, sockets on any other major, and says why`, () => {
    assert.deepEqual(chooseStreamEngine(undefined, on24, handles), { engine: loadHandleEngine(), note: null });
    for (const major of [22, 25, 26]) {
      const { engine, note } = chooseStreamEngine('auto', { major, bindingsWarn: false }, handles);
      assert.equal(engine, socketEngine);
      assert.equal(note, `the handles engine is tested on Node.js 24 only, this is Node.js ${major}`);
    }
  });

  it('falls back to sockets when the bindings cannot load, with the reason', () => {
    const { engine, note } = chooseStreamEngine(undefined, on24, cannotLoad);
    assert.equal(engine, socketEngine);
    assert.equal(note, 'the handles engine cannot load: process.binding() failed: Access to this API has been restricted');
  });

  it('runs on sockets by itself when Node.js reports process.binding() deprecated (--pending-deprecation)', () => {
    const { engine, note } = chooseStreamEngine(undefined, { major: HANDLES_TESTED_ON, bindingsWarn: true }, handles);
    assert.equal(engine, socketEngine);
    assert.equal(note, 'Node.js runs with --pending-deprecation, and the handles engine uses process.binding() (DEP0111)');
    // asked for by name, it is used all the same (and Node prints its warning)
    assert.equal(chooseStreamEngine('handles', { major: HANDLES_TESTED_ON, bindingsWarn: true }, handles).engine.name, 'handles');
  });

  it('keeps an explicit choice: handles on another major runs with a note, handles that cannot load is an error', () => {
    assert.deepEqual(chooseStreamEngine('handles', { major: 26, bindingsWarn: false }, handles), {
      engine: loadHandleEngine(),
      note: 'FURIWAKE_TCP_ENGINE=handles on Node.js 26: the handles engine is tested on Node.js 24 only',
    });
    assert.throws(() => chooseStreamEngine('handles', on24, cannotLoad),
      /^Error: FURIWAKE_TCP_ENGINE=handles: the handles engine cannot load: process\.binding\(\) failed: Access to this API has been restricted; unset FURIWAKE_TCP_ENGINE \(or set it to sockets\) to run on net\.Socket$/);
    assert.deepEqual(chooseStreamEngine('sockets', { major: 26, bindingsWarn: true }, cannotLoad), { engine: socketEngine, note: null });
  });

  it('says what is missing when the bindings changed shape, and why process.binding() failed', () => {
    type Binding = (name: string) => Record<string, unknown>;
    const holder = process as unknown as { binding: Binding };
    const real = holder.binding;
    const withBinding = (fake: Binding): string => {
      holder.binding = fake;
      try {
        loadBindings();
        return 'loaded';
      } catch (err) {
        return (err as Error).message;
      } finally {
        holder.binding = real;
      }
    };
    assert.equal(withBinding(real), 'loaded');
    const tcp = real.call(process, 'tcp_wrap') as { TCP: { prototype: object } };
    const TCP = function TCP(): void {};
    TCP.prototype = Object.create(tcp.TCP.prototype, { reset: { value: undefined }, bind6: { value: 1 } });
    assert.equal(withBinding((name) => name === 'tcp_wrap' ? { ...tcp, TCP } : real.call(process, name)), "process.binding('tcp_wrap').TCP lacks reset, bind6");
    assert.equal(withBinding((name) => name === 'stream_wrap' ? { ...real.call(process, name), streamBaseState: [], kReadBytesOrError: 'x' } : real.call(process, name)),
      "Node's stream bindings lack kReadBytesOrError, streamBaseState");
    assert.equal(withBinding(() => {
      throw new Error('No such binding');
    }), 'process.binding() failed: No such binding');
  });

  for (const name of ['handles', 'sockets']) {
    it(`${name}: a taken address is an error naming EADDRINUSE, and nothing stays open`, async () => {
      const engine = streamEngine(name);
      const first = await engine.listen('127.0.0.1', 0, 16, () => {}, () => {});
      const { port } = first.address();
      await assert.rejects(engine.listen('127.0.0.1', port, 16, () => {}, () => {}), /EADDRINUSE/);
      first.close();
    });
  }
});

/** An owner that records what its stream tells it. */
function recorder(): StreamOwner & { events: string[]; closed: Promise<void>; connected: Promise<void> } {
  const events: string[] = [];
  let closed!: () => void;
  let connected!: () => void;
  return {
    events,
    closed: new Promise<void>((resolve) => (closed = resolve)),
    connected: new Promise<void>((resolve) => (connected = resolve)),
    streamData: () => true,
    streamEnd: () => void events.push('end'),
    streamDrained: () => void events.push('drained'),
    streamConnected: () => {
      events.push('connected');
      connected();
    },
    streamError: (_s, code) => void events.push(`error ${code}`),
    streamClosed: () => {
      events.push('closed');
      closed();
    },
  };
}

describe('stream engines: backpressure', () => {
  for (const name of ['handles', 'sockets']) {
    it(`${name}: a write that says "stop" is always followed by streamDrained`, { timeout: 10_000 }, async () => {
      let peer!: net.Socket;
      const server = net.createServer((s) => {
        peer = s;
        s.on('error', () => {});
        s.pause(); // reads nothing until the writer has been told to stop
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      let drained!: () => void;
      const owner = { ...recorder(), streamDrained: () => drained() };
      const stream = streamEngine(name).connect('127.0.0.1', (server.address() as net.AddressInfo).port, owner);
      await owner.connected;
      // small writes until one is not taken: the kernel's buffers fill first
      const chunk = Buffer.alloc(100, 'x');
      let written = 0;
      while (stream.write(chunk)) written += chunk.length;
      assert.ok(written > 0);
      const done = new Promise<void>((resolve) => (drained = resolve));
      peer.resume();
      await done;
      stream.close();
      await owner.closed;
      server.close();
    });
  }
});

describe('stream engines: closing', () => {
  for (const name of ['handles', 'sockets']) {
    it(`${name}: a reset asked while our FIN is still pending closes the stream (plainly)`, { timeout: 5_000 }, async () => {
      const server = net.createServer((s) => {
        s.on('error', () => {});
        s.resume();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const owner = recorder();
      const stream = streamEngine(name).connect('127.0.0.1', (server.address() as net.AddressInfo).port, owner);
      await owner.connected;
      stream.end(); // libuv runs the shutdown on a later turn of the loop
      stream.reset(); // refused by libuv during a shutdown: must still close
      await owner.closed;
      assert.deepEqual(owner.events, ['connected', 'closed']);
      server.close();
    });
  }
});

describe('stream engine choice in a furiwake process', () => {
  let dir: string;
  let member: TcpServer;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'furiwake-engine-'));
    member = await startTcpServer('m');
  });
  after(async () => {
    await member.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A config with `services` (name: mode) all in front of the member. */
  async function config(services: Record<string, 'tcp' | 'udp'>): Promise<string> {
    const file = path.join(dir, `${Object.keys(services).join('-')}.yaml`);
    const lines = Object.entries(services).map(([name, mode]) => `  ${name}: { listen: 127.0.0.1:0, mode: ${mode}, pool: p }`);
    await writeFile(file, `services:\n${lines.join('\n')}\npools:\n  p:\n    members: [ { address: 127.0.0.1:${member.port} } ]\n`);
    return file;
  }

  /** The engine lines of `run` once it has started, after traffic crossed each tcp service; stops it. */
  async function startedOn(run: Run, services: string[]): Promise<{ engines: unknown[]; notes: Record<string, unknown>[] }> {
    await run.event('furiwake started');
    const events = run.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const listening = events.filter((e) => e.msg === 'service listening');
    assert.deepEqual(listening.map((e) => e.service).sort(), [...services].sort());
    for (const e of listening) assert.equal(await greeting(e.port as number), 'm');
    run.child.kill('SIGTERM');
    assert.equal(await run.exit(), 0);
    return { engines: listening.map((e) => e.engine), notes: events.filter((e) => e.msg === 'tcp stream engine') };
  }

  it('--pending-deprecation --throw-deprecation on the sockets engine: no warning, no crash', { timeout: 20_000 }, async () => {
    const run = furiwake(['start', '-c', await config({ a: 'tcp' })], {
      node: ['--pending-deprecation', '--throw-deprecation'], env: { FURIWAKE_TCP_ENGINE: 'sockets' },
    });
    const { engines, notes } = await startedOn(run, ['a']);
    assert.deepEqual(engines, ['sockets']);
    assert.deepEqual(notes, []);
    assert.equal(run.stderr, '');
  });

  const fallbacks = [
    { when: '--pending-deprecation --throw-deprecation', node: ['--pending-deprecation', '--throw-deprecation'],
      reason: 'Node.js runs with --pending-deprecation, and the handles engine uses process.binding() (DEP0111)' },
    { when: 'the permission model (process.binding denied)', node: ['--permission', '--allow-fs-read=*'],
      reason: "the handles engine cannot load: process.binding() is denied by Node's permission model (--permission)" },
  ];
  for (const { when, node, reason } of fallbacks) {
    it(`under ${when}, engine unset: sockets, said once, traffic flows`, { timeout: 20_000 }, async () => {
      const run = furiwake(['start', '-c', await config({ a: 'tcp', b: 'tcp' })], { node, env: { FURIWAKE_TCP_ENGINE: '' } });
      const { engines, notes } = await startedOn(run, ['a', 'b']);
      assert.deepEqual(engines, ['sockets', 'sockets']);
      assert.deepEqual(notes.map((n) => [n.level, n.engine, n.reason]), [[40, 'sockets', reason]]);
      assert.equal(run.stderr, '');
    });
  }

  it('an explicit handles engine that cannot load: a start error, and what opened before it closes', { timeout: 20_000 }, async () => {
    // the udp service binds first: the process must not stay up on its socket
    const run = furiwake(['start', '-c', await config({ u: 'udp', t: 'tcp' })], {
      node: ['--permission', '--allow-fs-read=*'], env: { FURIWAKE_TCP_ENGINE: 'handles' },
    });
    assert.equal(await run.exit(), 1);
    const fatal = JSON.parse(run.stdout.split('\n').find((l) => l.includes('"cannot start"'))!) as Record<string, unknown>;
    assert.equal(fatal.reason, "service t: FURIWAKE_TCP_ENGINE=handles: the handles engine cannot load: process.binding() is denied by Node's permission model (--permission); unset FURIWAKE_TCP_ENGINE (or set it to sockets) to run on net.Socket");
  });
});
