// Bodies stream through with backpressure, never gathered: 100 MB uploaded chunked and 100 MB
// downloaded chunked through a balancer running as its own process, past a member and a client
// that read slowly. Both ends check every byte (a running hash). What the balancer holds is
// read from inside it while the bytes flow: through the inspector, a full GC, then its live
// heap and buffers (RSS alone would mostly show how lazily V8 collects 64 KB read buffers).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { fileURLToPath } from 'node:url';
import { startMember } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../../bin/furiwake.js', import.meta.url));
const TOTAL = 100 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'furiwake streams ');
/** Growth of the balancer's live memory allowed while 100 MB pass (buffering would take 100 MB). */
const ALLOWED_GROWTH = 8 * 1024 * 1024;

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

interface Balancer {
  port: number;
  pid: number;
  /** heap used plus array buffers, after a full GC (bytes) */
  live(): Promise<number>;
}

/** The balancer as a child process in front of `memberPort`, with an inspector session to look inside. */
async function balancer(memberPort: number): Promise<Balancer> {
  const dir = mkdtempSync(join(tmpdir(), 'furiwake-stream-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'furiwake.yaml');
  writeFileSync(file, `global: { log-level: info }
services:
  big: { listen: 127.0.0.1:0, mode: http, pool: p, access-log: false }
pools:
  p: { members: [ { address: 127.0.0.1:${memberPort} } ] }
`);
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', BIN, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  while (!/"msg":"service listening"/.test(out) || !/ws:\/\/\S+/.test(err)) {
    if (child.exitCode !== null) throw new Error(`furiwake exited: ${err}`);
    await Promise.race([once(child.stdout, 'data'), once(child.stderr, 'data'), once(child, 'exit')]);
  }
  const port = (JSON.parse(out.split('\n').find((l) => l.includes('service listening'))!) as { port: number }).port;
  const ws = new WebSocket(/ws:\/\/\S+/.exec(err)![0]);
  await once(ws, 'open');
  after(() => ws.close());
  let id = 0;
  const call = (method: string, params: object = {}): Promise<{ result?: { result?: { value?: string } } }> => new Promise((resolve) => {
    const mine = ++id;
    const onMessage = (e: MessageEvent): void => {
      const msg = JSON.parse(String(e.data)) as { id?: number };
      if (msg.id !== mine) return;
      ws.removeEventListener('message', onMessage);
      resolve(msg as { result?: { result?: { value?: string } } });
    };
    ws.addEventListener('message', onMessage);
    ws.send(JSON.stringify({ id: mine, method, params }));
  });
  return {
    port,
    pid: child.pid!,
    async live() {
      // twice: V8 frees array buffers of the first collection concurrently, after it returns
      await call('HeapProfiler.collectGarbage');
      await call('HeapProfiler.collectGarbage');
      const r = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
      const usage = JSON.parse(r.result!.result!.value!) as NodeJS.MemoryUsage;
      return usage.heapUsed + usage.arrayBuffers;
    },
  };
}

/** Writes `total` bytes of CHUNK to `out`, waiting for 'drain' whenever it asks. */
async function pump(out: NodeJS.WritableStream, total: number, onChunk: () => void | Promise<void>): Promise<string> {
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += CHUNK.length) {
    hash.update(CHUNK);
    await onChunk();
    if (!out.write(CHUNK)) await once(out, 'drain');
  }
  return hash.digest('hex');
}

/** A member that takes uploads slowly (backpressure must reach the client) and sends downloads of ?bytes=N. */
async function streamingMember(): Promise<number> {
  const m = await startMember('big', (req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'POST') {
      const hash = createHash('sha256');
      let received = 0;
      req.on('data', (c: Buffer) => {
        received += c.length;
        hash.update(c);
        req.pause();
        setImmediate(() => req.resume());
      });
      req.on('end', () => res.end(`${received} ${hash.digest('hex')}`));
      return;
    }
    void pump(res, Number(url.searchParams.get('bytes')), () => {}).then((digest) => {
      res.addTrailers({ 'x-digest': digest });
      res.end();
    });
  }, { stream: true });
  return m.port;
}

/** Uploads `total` bytes chunked; checks the member got every byte. */
async function upload(port: number, total: number, sample: () => Promise<void>): Promise<void> {
  const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/upload', headers: { 'transfer-encoding': 'chunked' } });
  const response = once(req, 'response') as Promise<[http.IncomingMessage]>;
  req.on('error', () => {});
  const digest = await pump(req, total, sample);
  req.end();
  const [res] = await response;
  let answer = '';
  for await (const c of res) answer += String(c);
  assert.equal(answer, `${total} ${digest}`);
}

/** Downloads `total` bytes (chunked by the member), reading at the pace of `sample`; checks every byte. */
async function download(port: number, total: number, sample: () => Promise<void>): Promise<void> {
  const down = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', path: `/download?bytes=${total}` }, resolve).on('error', reject);
  });
  assert.equal(down.headers['transfer-encoding'], 'chunked');
  const got = createHash('sha256');
  let bytes = 0;
  let pending = 0;
  for await (const c of down) {
    got.update(c as Buffer);
    bytes += (c as Buffer).length;
    // sampled in CHUNK-sized steps, so the points fall as in the upload
    for (pending += (c as Buffer).length; pending >= CHUNK.length; pending -= CHUNK.length) await sample();
  }
  assert.equal(bytes, total);
  assert.equal(got.digest('hex'), down.trailers['x-digest']);
}

describeOnEachEngine('streaming through the balancer', () => {
  it('uploads and downloads 100 MB chunked without its memory growing', async () => {
    const b = await balancer(await streamingMember());
    const idle = async (): Promise<void> => {};
    // a first round of 8 MB each way: code compiled and buffers pooled before the baseline
    await upload(b.port, 8 * 1024 * 1024, idle);
    await download(b.port, 8 * 1024 * 1024, idle);
    const baseline = await b.live();
    const baselineRss = rss(b.pid);
    let peak = baseline;
    let peakRss = baselineRss;
    let chunks = 0;
    /** Looks inside the balancer half way and near the end of each 100 MB. */
    const sample = async (): Promise<void> => {
      chunks++;
      if (chunks % 1600 !== 800 && chunks % 1600 !== 1500) return;
      peak = Math.max(peak, await b.live());
      peakRss = Math.max(peakRss, rss(b.pid));
    };
    await upload(b.port, TOTAL, sample);
    await download(b.port, TOTAL, sample);
    const growth = peak - baseline;
    const mb = (n: number): string => (n / 1048576).toFixed(1);
    process.stdout.write(`# balancer live memory ${mb(baseline)} MB, peak ${mb(peak)} MB; RSS ${mb(baselineRss)} MB, peak ${mb(peakRss)} MB; 2 x 100 MB streamed\n`);
    assert.ok(growth < ALLOWED_GROWTH, `live memory grew by ${mb(growth)} MB while streaming`);
  });
});
