// The access log's formats: the line template parsed once (and fuzzed: it never throws, and what
// it accepts renders back to itself), JSON with only the chosen fields, escaping, and the
// config errors that name their path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACCESS_FIELDS, parseTemplate, type TemplatePart } from '../../src/config/log-fields.ts';
import { parseConfig } from '../../src/config/load.ts';
import { AccessFormat, type AccessEntry } from '../../src/log/access-format.ts';
import { fuzz, fuzzCount } from '../helpers/fuzz.ts';
import { issuesOf, withService } from '../config/refused.ts';

const ENTRY: AccessEntry = {
  client: '192.0.2.7', service: 'www', route: 'api', member: 'm1', protocol: 'HTTP/1.1', method: 'GET', path: '/a?b=c', status: 200, bytes: 123,
};
/** A tcp connection's line (proxy/connection-log.ts): no method, path or status; its pool, bytes in and end. */
const CONNECTION: AccessEntry = {
  client: '192.0.2.8', service: 'db', member: 'd1', protocol: 'tcp', bytes: 4096, pool: 'dbs', bytesIn: 512, termination: 'member-reset',
};
const TIMES = { queue: 0, connect: 1.23, firstByte: 4.56 };

function lineFormat(template: string): AccessFormat {
  const parsed = parseTemplate(template);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
  return new AccessFormat({ format: 'line', fields: [], template: parsed.parts, to: { kind: 'stdout' } });
}

/** A template written back from its parts: `${field}` for each field, `$$` for each dollar sign. */
function unparse(parts: TemplatePart[]): string {
  return parts.map((p) => ('field' in p ? `\${${p.field}}` : p.text.replaceAll('$', '$$$$'))).join('');
}

describe('access log line template', () => {
  it('fills in fields by name, nginx style', () => {
    const f = lineFormat('$client - $member "$method $path $protocol" $status $bytes $connect/$first-byte/$total $route $peer $request_id');
    assert.equal(f.render(ENTRY, TIMES, 7.891), '192.0.2.7 - m1 "GET /a?b=c HTTP/1.1" 200 123 1.2/4.6/7.9 api - -');
  });

  it('reads ${name}, $$ and a name that ends before a dash', () => {
    const f = lineFormat('${status}x $$ $status-$bytes');
    assert.equal(f.render(ENTRY, TIMES, 0), '200x $ 200-123');
  });

  it('writes - for what a request has not and escapes quotes, backslashes and control bytes', () => {
    const f = lineFormat('"$path" $member $method');
    assert.equal(f.render({ ...ENTRY, path: '/q"\\\x01é', member: null, method: '' }, TIMES, 0), '"/q\\x22\\x5C\\x01\\xE9" - -');
  });

  it('has the time as ISO 8601 in UTC', () => {
    const line = lineFormat('[$time]').render(ENTRY, TIMES, 0);
    assert.match(line, /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\]$/);
  });

  it('refuses an unknown field, a lone $ and an unclosed ${', () => {
    const fail = (t: string) => {
      const parsed = parseTemplate(t);
      assert.ok(!parsed.ok, t);
      return parsed.message;
    };
    assert.match(fail('$client $agent'), /unknown field "\$agent" at character 9; the fields are time, client/);
    assert.match(fail('cost: 5$'), /a \$ at character 8 is not followed by a field name \(write \$\$ for a dollar sign\)/);
    assert.match(fail('${status'), /has no closing \}/);
    assert.match(fail('x'.repeat(5000)), /at most 4096 characters/);
  });

  it('never throws, and what it accepts is written back the same (fuzzed)', () => {
    const seeds = ['$client - [$time] "$method $path $protocol" $status $bytes', '${first-byte} $$ $request_id', '$status-$bytes'];
    const words = [...ACCESS_FIELDS.map((f) => `$${f}`), '$', '${', '}', '$$', '-', '_', '${total}'];
    fuzz(515, fuzzCount(30_000), (f) => f.mutate(Buffer.from(f.pick(seeds), 'latin1'), words), (input) => {
      const text = input.toString('latin1');
      const parsed = parseTemplate(text);
      if (!parsed.ok) {
        assert.equal(typeof parsed.message, 'string');
        return;
      }
      for (const p of parsed.parts) if ('field' in p) assert.ok((ACCESS_FIELDS as readonly string[]).includes(p.field));
      const again = parseTemplate(unparse(parsed.parts));
      assert.ok(again.ok);
      assert.deepEqual(again.parts, parsed.parts);
      const format = lineFormat(text);
      format.render(ENTRY, TIMES, 1);
      format.render(CONNECTION, TIMES, 1);
    });
  });
});

describe('connection lines (tcp, udp)', () => {
  it('fill in the pool, bytes each way and the end, and - or null for what http requests have', () => {
    const line = lineFormat('$client $service $pool/$member $protocol $bytes_in $bytes $termination "$method $path" $status $total');
    assert.equal(line.render(CONNECTION, TIMES, 250), '192.0.2.8 db dbs/d1 tcp 512 4096 member-reset "- -" - 250');
    // an http request has none of the connection fields
    assert.equal(lineFormat('$pool $bytes-in $termination').render(ENTRY, TIMES, 0), '- - -');
    const json = new AccessFormat({ format: 'json', fields: ['protocol', 'pool', 'bytes-in', 'bytes', 'termination', 'status', 'method'], template: [], to: { kind: 'stdout' } });
    assert.equal(json.render(CONNECTION, TIMES, 0), '{"protocol":"tcp","pool":"dbs","bytes-in":512,"bytes":4096,"termination":"member-reset","status":null,"method":null}');
  });
});

describe('access log json', () => {
  it('has only the chosen fields, in their order, null for what a request has not', () => {
    const f = new AccessFormat({ format: 'json', fields: ['status', 'client', 'route', 'peer', 'total', 'path'], template: [], to: { kind: 'stdout' } });
    const text = f.render({ ...ENTRY, path: '/"x"' }, TIMES, 2.25);
    assert.equal(text, '{"status":200,"client":"192.0.2.7","route":"api","peer":null,"total":2.3,"path":"/\\"x\\""}');
    assert.deepEqual(JSON.parse(text), { status: 200, client: '192.0.2.7', route: 'api', peer: null, total: 2.3, path: '/"x"' });
  });
});

describe('logs config', () => {
  const file = (logs: string) => `logs:\n${logs}\n${withService('{ listen: 127.0.0.1:8080, mode: http, pool: web }')}`;

  it('is stdout, requests in the process log, without the section or with it empty', () => {
    assert.equal(parseConfig(withService('{ listen: 127.0.0.1:8080, mode: http, pool: web }'), 'a.yaml', {}).logs, undefined);
    assert.deepEqual(parseConfig(file(''), 'a.yaml', {}).logs, { access: null, process: { to: { kind: 'stdout' } }, syslog: null });
  });

  it('reads formats, destinations and the syslog server', () => {
    const logs = parseConfig(file(`  access: { line: '$client $status', to: file:/var/log/furiwake/access.log }
  process: { to: syslog }
  syslog: { address: "tcp://[::1]:6514", facility: local3, app-name: lb1 }`), 'a.yaml', {}).logs!;
    assert.deepEqual(logs.access, { format: 'line', fields: [...ACCESS_FIELDS], template: [{ field: 'client' }, { text: ' ' }, { field: 'status' }], to: { kind: 'file', path: '/var/log/furiwake/access.log' } });
    assert.deepEqual(logs.process, { to: { kind: 'syslog' } });
    assert.deepEqual(logs.syslog, { transport: 'tcp', host: '::1', port: 6514, path: '', facility: 19, appName: 'lb1', hostname: null, buffer: 1024 * 1024 });
    const json = parseConfig(file('  access: { fields: [client, first_byte] }'), 'a.yaml', {}).logs!.access!;
    assert.equal(json.format, 'json');
    assert.deepEqual(json.fields, ['client', 'first-byte']);
    assert.equal(parseConfig(file('  syslog: { address: "unix:/run/syslog.sock" }'), 'a.yaml', {}).logs!.syslog!.path, '/run/syslog.sock');
  });

  it('names the path of what is wrong', () => {
    const issues = (logs: string) => issuesOf(file(logs)).map((i) => `${i.path}: ${i.message}`);
    assert.match(issues(`  access: { line: '$client $user' }`)[0], /^logs\.access\.line: unknown field "\$user" at character 9/);
    assert.match(issues('  access: { fields: [client, user] }')[0], /^logs\.access\.fields\[1\]: expected a field: time, client/);
    assert.match(issues('  access: { format: line }')[0], /^logs\.access\.line: missing; format line needs a line template/);
    assert.match(issues('  access: { to: syslog }')[0], /^logs\.access\.to: syslog needs a logs\.syslog section/);
    assert.match(issues('  access: { to: file:relative.log }')[0], /^logs\.access\.to: expected file: followed by an absolute path/);
    assert.match(issues('  syslog: { address: 127.0.0.1:514 }')[0], /^logs\.syslog\.address: expected udp:\/\/host:port, tcp:\/\/host:port or unix:\/path/);
    assert.match(issues('  syslog: { address: "udp://127.0.0.1:514", facility: local9 }')[0], /^logs\.syslog\.facility: expected kern, user/);
    assert.match(issues('  acces: {}')[0], /^logs/);
  });
});
