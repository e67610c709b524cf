// furiwake as a child process under a descriptor limit (prlimit), for the flood tests: its JSON
// log read as it comes, the ports its services and admin API listen on, its resident memory, and
// the admin API's metrics.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { tempDir } from '../helpers/files.ts';

const BIN = fileURLToPath(new URL('../../bin/furiwake.js', import.meta.url));

export interface LimitedProcess {
  pid: number;
  events: Record<string, unknown>[];
  /** the port a service listens on */
  port(service: string): number;
  /** the admin API's port */
  admin: number;
  /** resident memory now (kB), from /proc */
  rss(): number;
  /** one sample of /metrics by series as written (`name{labels}`); 0 when absent */
  metric(series: string): Promise<number>;
  stop(): Promise<void>;
}

/** Starts `furiwake start` on `yaml` under `prlimit --nofile=<nofile>`, once it has started. */
export async function startLimited(nofile: string, yaml: string): Promise<LimitedProcess> {
  const dir = await tempDir('limited');
  const cfg = join(dir, 'furiwake.yaml');
  writeFileSync(cfg, yaml);
  const child = spawn('prlimit', [`--nofile=${nofile}`, process.execPath, BIN, 'start', '-c', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const events: Record<string, unknown>[] = [];
  let partial = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    partial += c;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) if (l.startsWith('{')) events.push(JSON.parse(l) as Record<string, unknown>);
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = once(child, 'exit');
  while (!events.some((e) => e.msg === 'furiwake started')) {
    const ended = await Promise.race([once(child.stdout, 'data').then(() => false), exited.then(() => true)]);
    if (ended) throw new Error(`furiwake exited: ${stderr} ${JSON.stringify(events)}`);
  }
  const admin = Number(events.find((e) => e.msg === 'admin listening')?.port ?? 0);
  return {
    pid: child.pid!,
    events,
    admin,
    port: (service) => Number(events.find((e) => e.msg === 'service listening' && e.service === service)!.port),
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]),
    async metric(series) {
      const text = (await get(admin, '/metrics')).body;
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.slice(series.length + 1));
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A GET on a new connection. */
export function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}
