// OpenSSL on both sides of a TLS connection, for the tls-session tests: `openssl s_server -www`
// as a member (its own session cache), `openssl s_client` saving (-sess_out) and resuming
// (-sess_in) a session. "Reused" in s_client's report proves the member held the session.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

/** A self-signed certificate for localhost, dir/cert.pem and dir/key.pem, that the members present. */
export function memberCert(dir: string): void {
  const made = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
}

export interface TlsMember {
  name: string;
  port: number;
  close(): Promise<void>;
}

/** `openssl s_server -www` on a free loopback port, with dir's cert.pem and key.pem; `tickets: false` leaves only session IDs. */
export async function startTlsMember(dir: string, name: string, tickets: boolean): Promise<TlsMember> {
  const args = ['s_server', '-accept', '127.0.0.1:0', '-cert', join(dir, 'cert.pem'), '-key', join(dir, 'key.pem'), '-www'];
  if (!tickets) args.push('-no_ticket');
  const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const m = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(out);
      if (m !== null) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`s_server exited (${code}): ${out}`)));
  });
  return { name, port, close: () => stop(child) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill();
  await exited;
}

/** One `openssl s_client -tls1_2` (or -tls1_3) session through the service: New or Reused, and its id. */
export async function handshake(port: number, session: string, resume: boolean, version = '-tls1_2'): Promise<{ reused: boolean; id: string }> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, version, '-ign_eof', resume ? '-sess_in' : '-sess_out', session];
  if (resume) args.push('-sess_out', session);
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.resume();
  child.stdin.end('GET / HTTP/1.0\r\n\r\n');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, out);
  const state = /^(New|Reused), (TLSv[\d.]+)/m.exec(out);
  assert.ok(state !== null, `no session line in:\n${out}`);
  return { reused: state[1] === 'Reused', id: /Session-ID: ([0-9A-F]*)/.exec(out)?.[1] ?? '' };
}
