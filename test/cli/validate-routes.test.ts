// `furiwake validate` lists an http service's routes in the order they are tried, and names the
// key of a route it refuses.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { furiwake } from '../helpers/process.ts';

const example = fileURLToPath(new URL('../../examples/routes.yaml', import.meta.url));

it('validate shows the routes of examples/routes.yaml', async () => {
  const run = furiwake(['validate', '-c', example]);
  assert.equal(await run.exit(), 0);
  assert.equal(run.stdout.split('\n').slice(1).join('\n'), `services.www routes (first match wins; any other request goes to pool web):
  api: host api.example.com, path-prefix /v1/ -> pool api (strip-prefix /v1)
  static: path-prefix /static/ or /assets/ -> pool files
  old-docs: path-prefix /docs/ -> redirect 301 https://docs.example.com{path}{query}
  health: path /healthz, method GET or HEAD -> respond 200 (text/plain; charset=utf-8, 3 bytes)
  internal: path-prefix /admin/, client-network 10.20.0.0/16 or 2001:db8:20::/48 -> pool web
  no-admin: path-prefix /admin/ -> deny 403
`);
});

it('validate names the route key it refuses, with its line', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'furiwake-routes-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bad.yaml');
  await writeFile(file, `services:
  www:
    listen: 127.0.0.1:80
    mode: http
    pool: web
    routes:
      - { name: api, match: { path-regex: "([" }, pool: api }
      - { name: two, match: { path: /x }, pool: nowhere }
pools:
  web: { members: [ { address: 10.0.0.1:80 } ] }
  api: { members: [ { address: 10.0.0.2:80 } ] }
`);
  const run = furiwake(['validate', '-c', file]);
  assert.equal(await run.exit(), 1);
  assert.match(run.stderr, /bad\.yaml:7(:\d+)?: services\.www\.routes\[0\]\.match\.path-regex: "\(\[" is not a valid regular expression/);
  assert.match(run.stderr, /bad\.yaml:8(:\d+)?: services\.www\.routes\[1\]\.pool: no pool named "nowhere"/);
});

it('validate lists a tcp service\'s routes, and names a route an earlier one hides', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'furiwake-routes-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const good = path.join(dir, 'tcp.yaml');
  await writeFile(good, `services:
  tls:
    listen: 127.0.0.1:443
    mode: tcp
    pool: web
    access: { deny: [ 192.0.2.0/24 ] }
    routes:
      - { name: a, match: { sni: [ a.example.com, "*.b.example.com" ] }, pool: api }
      - { name: lab, match: { client-network: 10.20.0.0/16 }, pool: api, access: { deny: [ 10.20.9.0/24 ] } }
      - { name: old, match: { sni-regex: "^old[0-9]*\\\\.example\\\\.com$" }, deny: true }
pools:
  web: { members: [ { address: 10.0.0.1:443 } ] }
  api: { members: [ { address: 10.0.0.2:443 } ] }
`);
  const ok = furiwake(['validate', '-c', good]);
  assert.equal(await ok.exit(), 0);
  assert.equal(ok.stdout.split('\n').slice(1).join('\n'), `services.tls routes (first match wins; any other connection goes to pool web):
  a: sni a.example.com or *.b.example.com -> pool api
  lab: client-network 10.20.0.0/16 -> pool api (access deny 10.20.9.0/24)
  old: sni-regex ^old[0-9]*\\.example\\.com$ -> deny (connection closed)
`);
  const bad = path.join(dir, 'hidden.yaml');
  await writeFile(bad, `services:
  www:
    listen: 127.0.0.1:80
    mode: http
    pool: web
    routes:
      - { name: api, match: { host: "*.example.com", path-prefix: /api/ }, pool: api }
      - { name: v1, match: { host: www.example.com, path: /api/v1, method: GET }, pool: web }
pools:
  web: { members: [ { address: 10.0.0.1:80 } ] }
  api: { members: [ { address: 10.0.0.2:80 } ] }
`);
  const run = furiwake(['validate', '-c', bad]);
  assert.equal(await run.exit(), 1);
  assert.match(run.stderr, /hidden\.yaml:8(:\d+)?: services\.www\.routes\[1\]\.match: this route never matches: routes\[0\] \(api\) takes every request it would/);
});
