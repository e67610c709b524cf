// Measures HAProxy's answers to the request-smuggling table (test/proxy/http/smuggling-vectors.ts),
// so that the table's HAProxy column can be filled and checked again. HAProxy (the Debian package,
// `mode http`, defaults otherwise) runs in front of the table's recording member, on 127.0.0.1
// ports the kernel hands out; each vector goes on its own connection and what came back (and
// what the member read) is written down as the column writes it.
//
//   node bench/smuggling-haproxy.ts          prints the table, marks the rows whose column differs
//   node bench/smuggling-haproxy.ts --check  and exits 1 when one does
//
// Needs `haproxy` on the PATH (apt-get install -y haproxy). Not part of `npm test`.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { outcome, startRecordingMember, statuses, VECTORS } from '../test/proxy/http/smuggling-vectors.ts';

/** A port the kernel says is free now (HAProxy's config cannot bind port 0). */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

async function listening(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.on('connect', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`HAProxy did not listen on ${port}`);
}

/** Sends `bytes`, reads until HAProxy closes, or 400 ms pass without a byte (3 s at most). */
function send(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    let idle: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(idle);
      clearTimeout(cap);
      socket.destroy();
      resolve(text);
    };
    const cap = setTimeout(done, 3_000);
    const rearm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(done, 400);
    };
    socket.on('connect', () => {
      socket.write(Buffer.from(bytes, 'latin1'));
      rearm();
    });
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      rearm();
    });
    socket.on('end', done);
    socket.on('error', done);
  });
}

const check = process.argv.includes('--check');
const member = await startRecordingMember();
const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'smuggling-haproxy-'));
const config = join(dir, 'haproxy.cfg');
writeFileSync(config, `global
  nbthread 1
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
  timeout http-request 2s
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server member 127.0.0.1:${member.port}
`);
const haproxy = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'inherit', 'inherit'] });
let version = '';
try {
  await listening(port, Date.now() + 10_000);
  const v = spawn('haproxy', ['-v']);
  v.stdout.on('data', (c: Buffer) => (version += c.toString()));
  await once(v, 'close');
  console.log(`# ${version.split('\n')[0]}\n`);
  console.log('| vector | furiwake | HAProxy (measured) | column |');
  console.log('| --- | --- | --- | --- |');
  let differ = 0;
  for (const v of VECTORS) {
    const before = member.requests.length;
    const text = await send(port, v.send);
    const measured = outcome(statuses(text), member.requests.slice(before).map((r) => r.line));
    const same = measured === v.haproxy;
    if (!same) differ++;
    console.log(`| ${v.name} | ${outcome(v.ours, v.member)} | ${measured} | ${same ? 'same' : `DIFFERS: ${v.haproxy}`} |`);
  }
  console.log(`\n${VECTORS.length} vectors, ${differ} whose HAProxy column differs from this measurement; member could not read: ${member.unreadable.length}`);
  if (check && differ > 0) process.exitCode = 1;
} finally {
  haproxy.kill();
  await once(haproxy, 'close');
  await member.close();
  rmSync(dir, { recursive: true, force: true });
}
