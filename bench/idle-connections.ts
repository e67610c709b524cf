// Memory of idle connections, per stream engine: furiwake runs as a child process in front of a
// member; N clients connect through it and wait: tcp clients after the member's greeting, http
// clients after one request and its answer (keep-alive). The child's resident memory before and
// after, divided by N, is what one idle connection costs. Run: `npm run bench:idle [N]` (default 4000;
// each connection takes two descriptors in furiwake and its descriptor budget keeps a reserve,
// so N must stay under (`ulimit -n` - 65) / 2).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/furiwake.js', import.meta.url));
const N = Number(process.argv[2] ?? 4000);

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

/**
 * `mode` tcp: each client's connection is piped to one member connection that stays open.
 * http: each client sends one request, reads its answer, and keeps its connection open
 * (keep-alive); the member connection went back to the pool after the answer.
 */
async function measure(mode: 'tcp' | 'http', engine: string, memberPort: number, dir: string): Promise<number> {
  const file = join(dir, 'furiwake.yaml');
  // (one event loop: the figure is one loop's cost per connection; the keep-alive timeout outlasts the measure)
  writeFileSync(file, `global: { log-level: info, workers: 1 }
services:
  idle: { listen: 127.0.0.1:0, mode: ${mode}, pool: p${mode === 'http' ? ', timeouts: { keep-alive: 5m }, access-log: false' : ''} }
pools:
  p: { members: [ { address: 127.0.0.1:${memberPort} } ] }
`);
  // A full GC every 200 ms in the child: the garbage its requests made (an http request's
  // exchange, strings) is not counted as the idle connections' memory.
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'data:text/javascript,setInterval(() => globalThis.gc(), 200).unref()', BIN, 'start', '-c', file], {
    env: { ...process.env, FURIWAKE_TCP_ENGINE: engine },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    while (!out.includes('service listening')) await once(child.stdout, 'data');
    const { port } = JSON.parse(out.split('\n').find((l) => l.includes('service listening'))!) as { port: number };
    await settle();
    const before = rssKiB(child.pid!);
    const clients: net.Socket[] = [];
    // in batches, so the listen backlog never overflows
    for (let i = 0; i < N; i += 500) {
      const batch = Array.from({ length: Math.min(500, N - i) }, () => {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => {});
        if (mode === 'http') socket.write('GET / HTTP/1.1\r\nhost: idle\r\n\r\n');
        clients.push(socket);
        return once(socket, 'data');
      });
      await Promise.all(batch);
    }
    await settle();
    const after = rssKiB(child.pid!);
    for (const socket of clients) socket.destroy();
    return ((after - before) * 1024) / N;
  } finally {
    child.kill('SIGKILL');
  }
}

// The tcp member greets and says nothing more; the http member answers every request.
const member = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.write('hello\n');
});
const httpMember = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.on('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n'));
});
httpMember.listen(0, '127.0.0.1');
await once(httpMember, 'listening');
member.listen(0, '127.0.0.1');
await once(member, 'listening');
const dir = mkdtempSync(join(tmpdir(), 'furiwake-idle-'));
try {
  const port = (member.address() as net.AddressInfo).port;
  console.log(`${N} idle tcp connections through furiwake (resident memory of its process)`);
  for (const engine of ['handles', 'sockets']) {
    const bytes = await measure('tcp', engine, port, dir);
    console.log(`${engine.padEnd(8)} ${Math.round(bytes).toString().padStart(6)} bytes per connection (its client and member sockets)`);
  }
  const httpPort = (httpMember.address() as net.AddressInfo).port;
  console.log(`${N} idle http keep-alive client connections through furiwake, each after one request`);
  for (const engine of ['handles', 'sockets']) {
    const bytes = await measure('http', engine, httpPort, dir);
    console.log(`${engine.padEnd(8)} ${Math.round(bytes).toString().padStart(6)} bytes per connection (its client socket; member connections are pooled)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  member.close();
  httpMember.close();
  // the clients' sockets on the member's side close with the member
  process.exit(0);
}
