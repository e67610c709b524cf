// nginx (Debian's /usr/sbin/nginx) as a real HTTP peer: run in a directory of the test's, in the
// foreground as the test's child, stopped when the test closes it or else at the end of the file.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { atEnd } from './cleanup.ts';
import { freePort } from './ports.ts';

export interface Nginx {
  port: number;
  close(): Promise<void>;
}

/**
 * nginx in `dir` serving `server` (the inside of a server block, after its listen line) on
 * 127.0.0.1:port, with `http` added to the http block. Ready when the master has started its
 * worker: it has bound the listening socket before that, and says so on stderr at `notice` level.
 */
export async function startNginx(dir: string, server: string, http = ''): Promise<Nginx> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  // as root, the worker runs as www-data: it must be able to read what the test put in `dir`
  const root = process.getuid?.() === 0;
  if (root) await chmod(dir, 0o755);
  await writeFile(conf, `
${root ? 'user www-data;' : ''}
daemon off;
worker_processes 1;
error_log stderr notice;
pid ${join(dir, 'nginx.pid')};
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  ${http}
  server {
    listen 127.0.0.1:${port};
    ${server}
  }
}
`);
  const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = once(child, 'close');
  const close = atEnd(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      if (stderr.includes('start worker process')) resolve();
    });
    exited.then(() => reject(new Error(`nginx exited before it was ready:\n${stderr}`)), () => {});
    child.on('error', reject);
  });
  return { port, close };
}
