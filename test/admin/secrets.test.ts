// The API and the event stream never show a secret: with a config full of them (the admin
// token, a cookie signing secret, a TLS key, a RADIUS secret and password, a monitor's
// Authorization header, body and query string, a script's arguments and what it prints), every
// GET route of the OpenAPI document, /metrics, the dashboard's files and the event stream are
// read, and none of the secrets appears in any of them.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hideCheckOutput, hideQuery, hideReasonOutput, redact, Scrubber, secretsOf } from '../../src/admin/redact.ts';
import { Furiwake } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { certDir, selfSigned } from '../proxy/http/certs.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { baseOf, call, openEvents, TOKEN } from './helpers.ts';
import { until } from '../helpers/wait.ts';

const SECRETS = {
  token: TOKEN,
  cookie: 'cookie-signing-secret-4242',
  radiusSecret: 'radius-shared-secret-77',
  radiusPassword: 'radius-probe-password-88',
  header: 'header-credential-99',
  query: 'query-api-key-1234',
  body: 'monitor-body-password-55',
  args: 'script-argument-secret-66',
  output: 'script-printed-secret-33',
};

describe('admin API: secrets', () => {
  it('no GET route, /metrics or event shows a secret of the config', async () => {
    const dir = certDir();
    const site = selfSigned(dir, 'site', ['www.example.com']);
    const member = await startTcpServer('a');
    writeFileSync(join(dir, 'furiwake.yaml'), `
admin: { listen: 127.0.0.1:0, token: "\${TOKEN}" }
services:
  www:
    listen: 127.0.0.1:0
    mode: http
    pool: web
    tls: { certificates: [ { cert: site.pem, key: site.key } ] }
    persistence: { method: cookie, secret: "${SECRETS.cookie}" }
pools:
  web:
    members: [ { address: 127.0.0.1:${member.port}, id: a } ]
    health:
      require: any
      monitors:
        - { type: http, method: POST, path: "/health?key=${SECRETS.query}", headers: { Authorization: "Bearer ${SECRETS.header}" }, body: "password=${SECRETS.body}", interval: 1m }
        - { type: radius, port: ${member.port}, secret: "${SECRETS.radiusSecret}", username: probe, password: "${SECRETS.radiusPassword}", interval: 1m }
        - { type: script, command: /bin/sh, args: [ "-c", "echo ${SECRETS.output} >&2; echo ${SECRETS.args} >/dev/null; exit 3" ], interval: 1s }
`);
    const config = await loadConfig(join(dir, 'furiwake.yaml'), { TOKEN });
    const app = await Furiwake.start(config, createLogger('silent'), {});
    after(() => app.stop(0));
    const base = baseOf(app);
    // the script has run and failed: its output is in the member's checks (and in the log)
    const web = app.runtime.pools.get('web')!.members[0];
    await until(() => web.checks.some((c) => c.type === 'script' && c.reason.startsWith('exit 3')));
    assert.match(web.checks.find((c) => c.type === 'script')!.reason, new RegExp(SECRETS.output));

    const bodies: [string, string][] = [];
    const openapi = (await call(base, '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const params: Record<string, string> = { pool: 'web', member: 'a', service: 'www' };
    const gets = Object.entries(openapi.paths).filter(([, ops]) => 'get' in ops).map(([p]) => p.replace(/\{(\w+)\}/g, (_m, n: string) => params[n]));
    assert.ok(gets.length >= 10, gets.join(' '));
    for (const path of [...gets.filter((p) => !p.endsWith('/events')), '/metrics', '/', '/api/v1/connections?show-query=true']) {
      const res = await fetch(base + path, { headers: { authorization: `Bearer ${TOKEN}` } });
      bodies.push([path, await res.text()]);
    }
    const events = await openEvents(base, TOKEN);
    bodies.push(['/api/v1/events', JSON.stringify(await events.next())]);
    events.close();

    for (const [path, text] of bodies) {
      for (const [name, secret] of Object.entries(SECRETS)) assert.equal(text.includes(secret), false, `${path} shows the ${name} secret`);
      assert.equal(text.includes(site.keyPem.split('\n')[1]), false, `${path} shows the TLS key`);
    }
    const shown = (await call(base, '/api/v1/pools/web/members/a')).body;
    assert.equal(shown.checks.find((c: { type: string }) => c.type === 'script').reason, 'exit 3 (output in the log)');
    assert.match(shown.healthReason, /script: exit 3 \(output in the log\)/);
  });

  it('hides query strings, script output, and what monitors may carry credentials in', () => {
    assert.equal(hideQuery('/login?user=a&password=b'), '/login?(redacted)');
    assert.equal(hideQuery('/plain'), '/plain');
    assert.equal(hideCheckOutput('script', 'exit 2: db password is x; y'), 'exit 2 (output in the log)');
    assert.equal(hideCheckOutput('script', 'killed by SIGTERM: partial'), 'killed by SIGTERM (output in the log)');
    assert.equal(hideCheckOutput('http', 'status 500'), 'status 500');
    assert.equal(hideReasonOutput('script: exit 2: a; b: c; http: status 500; script: exit 1'), 'script: exit 2 (output in the log); http: status 500; script: exit 1');
    const config = { pools: { p: { health: { monitors: [
      { type: 'https', path: '/h?k=query-secret-1', body: 'body-secret-22', headers: { 'X-Api-Key': 'header-secret-3', Accept: 'text/plain' }, tls: { key: '/etc/k.pem' } },
      { type: 'script', command: '/bin/check', args: ['--password=arg-secret-44'] },
    ] } } } };
    const view = JSON.stringify(redact(config));
    for (const secret of ['query-secret-1', 'body-secret-22', 'header-secret-3', 'arg-secret-44', '/etc/k.pem']) assert.equal(view.includes(secret), false, secret);
    assert.match(view, /"Accept":"text\/plain"/);
    assert.match(view, /"command":"\/bin\/check"/);
    const scrubber = new Scrubber(secretsOf(config));
    assert.equal(scrubber.scrub('{"reason":"got body-secret-22 and k=query-secret-1, short /h"}'), '{"reason":"got (redacted) and (redacted), short /h"}');
  });

  it('shows a loaded config\'s bytes as hex and its booleans as they are', async () => {
    // loading copies the config (structuredClone), which turns a monitor's Buffer into a plain Uint8Array
    const dir = certDir();
    writeFileSync(join(dir, 'bytes.yaml'), `
admin: {}
services: {}
pools:
  web:
    health: { monitors: [ { type: tcp, send: hi }, { type: udp, send-hex: "0102" } ] }
    members: [ { address: 127.0.0.1:1 } ]
`);
    const view = redact(await loadConfig(join(dir, 'bytes.yaml'), {})) as {
      admin: { readTokenRequired: unknown; token: unknown };
      pools: { web: { health: { monitors: { send: unknown }[] } } };
    };
    assert.deepEqual(view.pools.web.health.monitors.map((m) => m.send), ['hex:6869', 'hex:0102']);
    // a key named like a secret that holds a boolean holds no secret
    assert.equal(view.admin.readTokenRequired, false);
    assert.equal(view.admin.token, null);
  });
});
