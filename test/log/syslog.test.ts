// Logs to a syslog server the test runs: RFC 5424 over udp and over tcp (octet counting), the
// access log and the process log; a server that is down does not stop traffic (its lines are
// dropped, counted) and is reached again once it is back.

import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { parseTemplate } from '../../src/config/log-fields.ts';
import type { LogsConfig, SyslogConfig } from '../../src/config/logs-types.ts';
import { Furiwake } from '../../src/app.ts';
import { createLogger, logOutputs } from '../../src/log.ts';
import { pool } from '../helpers/config.ts';
import { httpConfig, startMember } from '../proxy/http/helpers.ts';
import { get, received, tcpSyslog, udpSyslog } from './helpers.ts';
import { tempDir } from '../helpers/files.ts';
import { until } from '../helpers/wait.ts';
import { after } from 'node:test';
import { call, startAdminApp } from '../admin/helpers.ts';

const LOCAL0 = 16;
const LOCAL3 = 19;

function syslogLogs(syslog: Partial<SyslogConfig> & Pick<SyslogConfig, 'transport' | 'port'>, processToo = false): LogsConfig {
  const parsed = parseTemplate('$client "$method $path" $status');
  if (!parsed.ok) throw new Error(parsed.message);
  return {
    access: { format: 'line', fields: [], template: parsed.parts, to: { kind: 'syslog' } },
    process: { to: processToo ? { kind: 'syslog' } : { kind: 'stdout' } },
    syslog: { host: '127.0.0.1', path: '', facility: LOCAL0, appName: 'furiwake', hostname: null, buffer: 1024 * 1024, ...syslog },
  };
}

async function start(logs: LogsConfig, level: 'info' | 'silent' = 'silent'): Promise<{ app: Furiwake; port: number }> {
  const m = await startMember('a');
  const app = await Furiwake.start({ ...httpConfig(pool('round-robin', [{ port: m.port, id: 'm1' }])), logs }, createLogger(level));
  after(() => app.stop(0));
  return { app, port: app.address('svc').port };
}

/** <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG */
const HEADER = /^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+) (\d+) (\S+) - (.*)$/s;

function header(message: string): { facility: number; severity: number; time: string; host: string; app: string; pid: number; msgid: string; msg: string } {
  const m = HEADER.exec(message);
  assert.ok(m !== null, `not RFC 5424: ${message}`);
  const pri = Number(m[1]);
  return { facility: pri >> 3, severity: pri & 7, time: m[2], host: m[3], app: m[4], pid: Number(m[5]), msgid: m[6], msg: m[7] };
}

describe('syslog', () => {
  it('takes access lines and process logs over udp (RFC 5424)', async () => {
    const server = await udpSyslog();
    const { port } = await start(syslogLogs({ transport: 'udp', port: server.port }, true), 'info');
    const before = Date.now();
    assert.equal(await get(port, '/udp?q=1'), 200);
    const [access] = await received(server, 1, (m) => m.includes(' access - '));
    const h = header(access);
    assert.deepEqual({ ...h, time: '' }, { facility: LOCAL0, severity: 6, time: '', host: hostname(), app: 'furiwake', pid: process.pid, msgid: 'access', msg: '127.0.0.1 "GET /udp?q=1" 200' });
    assert.ok(Math.abs(Date.parse(h.time) - before) < 60_000);
    // the process log too: pino's JSON line, with the severity of its level
    const [started] = await received(server, 1, (m) => m.includes('"msg":"config applied"'));
    const p = header(started);
    assert.equal(p.msgid, 'process');
    assert.equal(p.severity, 6);
    assert.equal(JSON.parse(p.msg).msg, 'config applied');
  });

  it('takes access lines over tcp with octet counting, another facility and app name', async () => {
    const server = await tcpSyslog();
    const { port } = await start(syslogLogs({ transport: 'tcp', port: server.port, facility: LOCAL3, appName: 'lb-1', hostname: 'edge-a' }));
    for (const path of ['/t1', '/t2', '/t3']) assert.equal(await get(port, path), 200);
    const messages = await received(server, 3, () => true);
    assert.deepEqual(messages.map((m) => ({ ...header(m), time: '' })), ['/t1', '/t2', '/t3'].map((path) => ({
      facility: LOCAL3, severity: 6, time: '', host: 'edge-a', app: 'lb-1', pid: process.pid, msgid: 'access', msg: `127.0.0.1 "GET ${path}" 200`,
    })));
  });

  it('takes access lines over a unix stream socket, one per line', async () => {
    const path = join(await tempDir('syslog-unix'), 'syslog.sock');
    const lines: string[] = [];
    const events = new EventEmitter();
    const server = net.createServer((socket) => {
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        const parts = text.split('\n');
        text = parts.pop()!;
        lines.push(...parts);
        events.emit('line');
      });
    });
    server.listen(path);
    await once(server, 'listening');
    after(() => new Promise((r) => server.close(r)));
    const { app, port } = await start(syslogLogs({ transport: 'unix', port: 0, path }));
    for (const p of ['/u1', '/u2']) assert.equal(await get(port, p), 200);
    await until(() => lines.length >= 2, events, 'line');
    assert.deepEqual(lines.map((m) => header(m).msg), ['127.0.0.1 "GET /u1" 200', '127.0.0.1 "GET /u2" 200']);
    // stopped first: its connection to the server ends, so the server can close
    await app.stop(0);
  });

  it('does not stop traffic while the server is down, and reaches it once it is back', async () => {
    // a port nothing listens on: bound, then closed
    const gone = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => gone.once('listening', r));
    const downPort = (gone.address() as net.AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const { app, port } = await start(syslogLogs({ transport: 'tcp', port: downPort, buffer: 1024 }));
    for (let i = 0; i < 40; i++) assert.equal(await get(port, `/down-${i}`), 200);
    // 40 lines of ~150 bytes do not fit in 1 KiB: the rest were dropped and counted
    const dropped = logOutputs(app.log).dropped;
    assert.ok(dropped > 0 && dropped < 40, `dropped ${dropped}`);
    // the server comes back on that port: the lines that waited reach it once furiwake connects
    // again (its backoff), then new ones
    const server = await tcpSyslog(downPort);
    await received(server, 1, (m) => m.endsWith('"GET /down-0" 200'));
    assert.equal(await get(port, '/back'), 200);
    await received(server, 1, (m) => m.endsWith('"GET /back" 200'));
  });

  it('does not stop traffic when nothing takes its udp datagrams', async () => {
    const server = await udpSyslog();
    const downPort = server.port;
    await server.close();
    const { app, port } = await start(syslogLogs({ transport: 'udp', port: downPort }));
    for (let i = 0; i < 20; i++) assert.equal(await get(port, `/lost-${i}`), 200);
    // refused (the port unreachable): counted as dropped
    assert.ok(logOutputs(app.log).dropped > 0);
  });

  it('counts the lines it drops in /metrics, those of worker threads too', async () => {
    const server = await udpSyslog();
    const downPort = server.port;
    await server.close();
    const m = await startMember('a');
    const c = httpConfig(pool('round-robin', [{ port: m.port, id: 'm1' }]));
    const { app, base } = await startAdminApp({ ...c, global: { ...c.global, workers: 2 }, logs: syslogLogs({ transport: 'udp', port: downPort }) });
    const port = app.address('svc').port;
    const dropped = async () => Number(/^furiwake_log_lines_dropped_total (\d+)$/m.exec((await call(base, '/metrics')).body as string)?.[1]);
    assert.equal(await dropped(), 0);
    for (let i = 0; i < 20; i++) assert.equal(await get(port, `/lost-${i}`), 200);
    // the first datagram of each worker may leave before the refusal of the port comes back
    assert.ok(await dropped() >= 10, `dropped ${await dropped()}`);
  });
});
