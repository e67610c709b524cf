// `furiwake ctl`: the admin API from a shell. Each command is one or two API calls; the answer
// is printed as a table (or as the API's JSON with --json). Errors say what to do: the API is
// not reachable (where it was looked for), the token is missing or wrong, or the API's own
// message (no such pool, an invalid weight).

import { setTimeout as delay } from 'node:timers/promises';
import type { HaStatus } from '../ha/status.ts';
import type { ConnectionView, MemberView, PoolView, ServiceView, StatusView, StickEntryView, StickTableSummary } from '../admin/schemas.ts';
import { parseCommandLine } from './args.ts';
import { bytes, dropped, duration, endpoint, table, type Cell } from './ctl-format.ts';
import { haText } from './ctl-ha.ts';

export const CTL_HELP = `furiwake ctl — talk to a running furiwake through its admin API

Usage:
  furiwake ctl status                        the process, counts, services (connections, http requests)
  furiwake ctl members [POOL]                members: state, each monitor, agent, weights, connections
  furiwake ctl drain|enable|disable POOL MEMBER
  furiwake ctl weight POOL MEMBER N          set a member's weight (0-256), kept across reloads
  furiwake ctl connections [--service S] [--limit N] [--show-query]
  furiwake ctl shutdown ID | --service S | --pool P | --member POOL/MEMBER
                                             end one connection (ID from ctl connections), or those of
                                             a service, pool or member: tcp is reset, http closed, a udp
                                             flow forgotten (its next datagram starts a new one), a
                                             nat connection's conntrack entry deleted, a dsr flow's
                                             entry deleted (tcp: the balancer resets it)
  furiwake ctl stick [SERVICE] [--key K] [--delete [--all]]
                                             stick tables; a service's entries; forget one key, or
                                             every entry (--delete --all)
  furiwake ctl reload                        read the config file again and apply it (as SIGHUP)
  furiwake ctl wait [SECONDS]                wait until the admin API answers (furiwake binds it after
                                             its services: a readiness check), at most SECONDS (60)
  furiwake ctl ha [--handover | --take-back] this node of the pair: VRRP role, VIPs, keepalived, last
                                             transitions; --handover gives the VIPs to the peer and
                                             keeps them away (maintenance), --take-back undoes it

Options:
  --admin URL     the admin API (default $FURIWAKE_ADMIN, else http://127.0.0.1:9090)
  --token TOKEN   the admin token (default $FURIWAKE_ADMIN_TOKEN; prefer the variable: a flag shows in ps)
  --json          print the API's JSON answer instead of a table
`;

const DEFAULT_ADMIN = 'http://127.0.0.1:9090';
/** how often `ctl wait` asks (ms) */
const WAIT_STEP = 200;
/** An admin API that has not answered after this long is reported as such. */
const TIMEOUT = 10_000;

class CtlError extends Error {
  readonly code: number;
  constructor(message: string, code = 1) {
    super(message);
    this.code = code;
  }
}

interface Out {
  json: boolean;
  write(text: string): void;
}

class Api {
  readonly #base: string;
  readonly #token: string | undefined;

  constructor(base: string, token: string | undefined) {
    // `127.0.0.1:9090` is taken to mean http://127.0.0.1:9090
    this.#base = (/^https?:\/\//i.test(base) ? base : `http://${base}`).replace(/\/+$/, '');
    this.#token = token === '' ? undefined : token;
  }

  /** Whether anything answers at the API's address (any status: it is up, whatever the token). */
  async answers(): Promise<boolean> {
    try {
      const res = await fetch(`${this.#base}/api/v1/status`, { signal: AbortSignal.timeout(TIMEOUT) });
      await res.body?.cancel();
      return true;
    } catch {
      return false;
    }
  }

  get base(): string {
    return this.#base;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.#base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(TIMEOUT) });
    } catch (err) {
      throw new CtlError(`cannot reach the admin API at ${this.#base}: ${reason(err)}\n` +
        'Is furiwake running with an admin section? Point to it with --admin URL or FURIWAKE_ADMIN.');
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CtlError(`${this.#base} answered ${res.status} with something other than JSON; is it furiwake's admin API?`);
    }
    if (res.ok) return json as T;
    const answer = json as { error?: string; issues?: { file?: string; line?: number; path: string; message: string }[] };
    let message = `${res.status}: ${answer.error ?? 'no message'}`;
    if (res.status === 401) message += `\n${this.#token === undefined ? 'Give the token' : 'Check the token'} with FURIWAKE_ADMIN_TOKEN (or --token).`;
    // a refused config file: each problem on its line (a refused request names them in its message)
    if (res.status === 422) for (const i of answer.issues ?? []) message += `\n  ${[i.file, i.line].filter((x) => x !== undefined).join(':')}${i.file !== undefined ? ': ' : ''}${i.path === '' ? '' : `${i.path}: `}${i.message}`;
    throw new CtlError(message);
  }
}

function reason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if ((err as Error).name === 'TimeoutError') return `no answer after ${TIMEOUT / 1000} s`;
  return cause?.message ?? (err as Error).message;
}

export async function runCtl(argv: string[], env: NodeJS.ProcessEnv = process.env, stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Promise<number> {
  const parsed = parseCommandLine(
    argv,
    {
      admin: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      service: { type: 'string' },
      key: { type: 'string' },
      limit: { type: 'string' },
      delete: { type: 'boolean' },
      all: { type: 'boolean' },
      pool: { type: 'string' },
      member: { type: 'string' },
      'show-query': { type: 'boolean' },
      handover: { type: 'boolean' },
      'take-back': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    'furiwake ctl',
    CTL_HELP,
    stderr,
  );
  if (parsed === null) return 2;
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    (values.help === true || command === 'help' ? stdout : stderr).write(CTL_HELP);
    return values.help === true || command === 'help' ? 0 : 2;
  }
  const api = new Api(values.admin ?? env.FURIWAKE_ADMIN ?? DEFAULT_ADMIN, values.token ?? env.FURIWAKE_ADMIN_TOKEN);
  const out: Out = { json: values.json === true, write: (text) => void stdout.write(text) };
  try {
    await dispatch(api, out, command, args, values);
    return 0;
  } catch (err) {
    if (!(err instanceof CtlError)) throw err;
    stderr.write(`furiwake ctl ${command}: ${err.message}\n`);
    return err.code;
  }
}

interface Flags {
  service?: string;
  key?: string;
  limit?: string;
  delete?: boolean;
  /** with --delete: every entry of the stick table */
  all?: boolean;
  pool?: string;
  /** POOL/MEMBER */
  member?: string;
  /** request targets with their query strings (hidden otherwise; needs the token) */
  'show-query'?: boolean;
  handover?: boolean;
  'take-back'?: boolean;
}

async function dispatch(api: Api, out: Out, command: string, args: string[], flags: Flags): Promise<void> {
  const expect = (names: string[], optional = 0): void => {
    if (args.length < names.length - optional || args.length > names.length) {
      throw new CtlError(`expected ${names.length === 0 ? 'no argument' : names.join(' ')}, got ${args.length === 0 ? 'none' : args.join(' ')}\n\n${CTL_HELP}`, 2);
    }
  };
  switch (command) {
    case 'status':
      expect([]);
      return status(api, out);
    case 'members':
      expect(['[POOL]'], 1);
      return members(api, out, args[0]);
    case 'drain':
    case 'enable':
    case 'disable':
      expect(['POOL', 'MEMBER']);
      return patch(api, out, args[0], args[1], { state: command === 'disable' ? 'disabled' : command === 'enable' ? 'enabled' : 'drain' });
    case 'weight':
      expect(['POOL', 'MEMBER', 'N']);
      return patch(api, out, args[0], args[1], { weight: /^\d+$/.test(args[2]) ? Number(args[2]) : args[2] });
    case 'connections':
      expect([]);
      return connections(api, out, flags);
    case 'shutdown':
      expect(['[ID]'], 1);
      return shutdown(api, out, args[0], flags);
    case 'stick':
      expect(['[SERVICE]'], 1);
      return stick(api, out, args[0], flags);
    case 'reload':
      expect([]);
      return reload(api, out);
    case 'ha':
      expect([]);
      return ha(api, out, flags);
    case 'wait':
      expect(['[SECONDS]'], 1);
      return wait(api, out, args[0]);
    default:
      throw new CtlError(`unknown command ${command}\n\n${CTL_HELP}`, 2);
  }
}

async function status(api: Api, out: Out): Promise<void> {
  const [s, services] = await Promise.all([api.call<StatusView>('GET', '/api/v1/status'), api.call<ServiceView[]>('GET', '/api/v1/services')]);
  if (out.json) return out.write(JSON.stringify({ status: s, services }, null, 2) + '\n');
  const m = s.members;
  out.write(`furiwake ${s.version}  pid ${s.pid}  up ${duration(s.uptime)}\n`);
  out.write(`members ${m.usable}/${m.total} usable${m.down > 0 ? ` (${m.down} down)` : ''}  connections ${s.connections}  ` +
    `reads ${s.auth.reads}, writes ${s.auth.writes}\n\n`);
  // connections are the clients' (an http one carries many requests); requests are http's alone;
  // datagrams dropped are udp's (furiwake forwards them itself)
  out.write(table(['SERVICE', 'MODE', 'VIP', 'POOL', '>ACTIVE', '>TOTAL', '>NEW/S', '>REQUESTS', '>REQ/S', 'DROPPED'],
    services.map((v) => [v.name, v.mode, v.address === null ? `${v.listen} (not listening)` : endpoint(v.address), v.pool, v.connections.active, v.connections.total,
      v.rates.connections.toFixed(2), v.requests ?? '-', v.requests === null ? '-' : v.rates.requests.toFixed(2), dropped(v.dropped)])));
}

async function members(api: Api, out: Out, pool: string | undefined): Promise<void> {
  const pools = pool === undefined
    ? await api.call<PoolView[]>('GET', '/api/v1/pools')
    : [await api.call<PoolView>('GET', `/api/v1/pools/${encodeURIComponent(pool)}`)];
  if (out.json) return out.write(JSON.stringify(pool === undefined ? pools : pools[0], null, 2) + '\n');
  const rows: Cell[][] = pools.flatMap((p) => p.members.map((m) => memberRow(m)));
  out.write(table(['POOL', 'MEMBER', 'ADDRESS', 'STATE', 'HEALTH', 'AGENT', '>WEIGHT', '>ACTIVE', '>TOTAL', '>NEW/S'], rows));
}

function memberRow(m: MemberView): Cell[] {
  const health = m.checks.length === 0 ? (m.health === 'up' ? '-' : m.healthReason) : m.checks.map((c) => `${c.type} ${c.at === 0 ? '…' : c.up ? 'ok' : 'FAIL'}${c.up ? '' : `: ${c.reason}`}`).join('; ');
  const agent = m.agent === null ? '-' : `${m.agent.state}${m.agent.percent !== 100 ? ` ${m.agent.percent}%` : ''}`;
  const weight = m.effectiveWeight === m.weight ? String(m.weight) : `${m.weight} (${m.effectiveWeight})`;
  const state = m.passive.ejected ? `ejected ${Math.max(0, Math.ceil((m.passive.ejectedUntil - Date.now()) / 1000))}s: ${m.passive.reason.replace(/^ejected: /, '')}` : m.status;
  return [m.pool, m.id, m.address, state, health, agent, weight, m.connections.active, m.connections.total, m.rates.connections.toFixed(2)];
}

async function patch(api: Api, out: Out, pool: string, member: string, body: Record<string, unknown>): Promise<void> {
  const m = await api.call<MemberView>('PATCH', `/api/v1/pools/${encodeURIComponent(pool)}/members/${encodeURIComponent(member)}`, body);
  if (out.json) return out.write(JSON.stringify(m, null, 2) + '\n');
  out.write(`${m.pool}/${m.id}: ${m.status}, admin ${m.admin}, weight ${m.weight}` +
    `${m.effectiveWeight !== m.weight ? ` (effective ${m.effectiveWeight})` : ''}, ${m.connections.active} active connection${m.connections.active === 1 ? '' : 's'}\n`);
}

async function connections(api: Api, out: Out, flags: Flags): Promise<void> {
  const query = new URLSearchParams();
  if (flags.service !== undefined) query.set('service', flags.service);
  query.set('limit', flags.limit ?? '100');
  if (flags['show-query'] === true) query.set('show-query', 'true');
  const [page, services] = await Promise.all([
    api.call<{ total: number; items: ConnectionView[] }>('GET', `/api/v1/connections?${query}`),
    api.call<ServiceView[]>('GET', '/api/v1/services'),
  ]);
  if (out.json) return out.write(JSON.stringify(page, null, 2) + '\n');
  const http = new Set(services.filter((s) => s.mode === 'http').map((s) => s.name));
  const now = Date.now();
  // with worker threads (global.workers above 1): which one holds each connection
  const workers = page.items.some((c) => c.worker !== undefined);
  out.write(table(['ID', ...(workers ? ['>WORKER'] : []), 'SERVICE', 'CLIENT', '', 'VIP', '', 'BALANCER', '', 'MEMBER', '>IN', '>OUT', '>AGE'], page.items.map((c) => [
    // an http client's HTTP version after its address
    c.id, ...(workers ? [c.worker ?? '-'] : []), c.service, endpoint(c.client) + (c.http === null ? '' : ` HTTP/${c.http}`), '->', endpoint(c.vip), '=>', endpoint(c.balancer), '->',
    memberCell(c, http.has(c.service)) + (c.request === null ? '' : ` ${c.request.method} ${c.request.path}`) + (c.kernel === null ? '' : ` (${c.kernel.mode} ${c.kernel.state})`),
    c.bytesIn === null ? '-' : bytes(c.bytesIn), c.bytesOut === null ? '-' : bytes(c.bytesOut), c.startedAt === null ? '-' : duration((now - c.startedAt) / 1000),
  ])));
  if (page.total > page.items.length) out.write(`(${page.items.length} of ${page.total}; --limit N for more)\n`);
}

/** `http`: the connection is an http client's, which has a member only while a request is under way. */
function memberCell(c: ConnectionView, http: boolean): string {
  if (c.member !== null) return `${endpoint({ address: c.member.address, port: c.member.port })} ${c.member.pool}/${c.member.id}${c.memberProtocol === null ? '' : ` over ${c.memberProtocol}`}`;
  if (c.kernel !== null) return `${endpoint(c.kernel.target)} (gone from its pool)`;
  return http && c.request === null ? '(between requests)' : '(queued)';
}

async function shutdown(api: Api, out: Out, id: string | undefined, flags: Flags): Promise<void> {
  const query = new URLSearchParams();
  if (flags.service !== undefined) query.set('service', flags.service);
  if (flags.member !== undefined) {
    const slash = flags.member.indexOf('/');
    if (slash <= 0 || slash === flags.member.length - 1) throw new CtlError(`--member expects POOL/MEMBER (as ctl members shows them), got ${flags.member}`, 2);
    if (flags.pool !== undefined && flags.pool !== flags.member.slice(0, slash)) throw new CtlError(`--pool ${flags.pool} and --member ${flags.member} name different pools`, 2);
    query.set('pool', flags.member.slice(0, slash));
    query.set('member', flags.member.slice(slash + 1));
  } else if (flags.pool !== undefined) query.set('pool', flags.pool);
  if (id !== undefined && query.size > 0) throw new CtlError('give a connection ID or --service/--pool/--member, not both', 2);
  if (id === undefined && query.size === 0) throw new CtlError('which connections? Give an ID (from ctl connections), --service S, --pool P or --member POOL/MEMBER; nothing ends them all at once', 2);
  const path = id === undefined ? `/api/v1/connections?${query}` : `/api/v1/connections/${encodeURIComponent(id)}`;
  const result = await api.call<{ ended: number; kernel: number }>('DELETE', path);
  if (out.json) return out.write(JSON.stringify(result) + '\n');
  out.write(`${result.ended} connection${result.ended === 1 ? '' : 's'} ended\n`);
}

async function stick(api: Api, out: Out, service: string | undefined, flags: Flags): Promise<void> {
  if (flags.all === true && flags.delete !== true) throw new CtlError('--all goes with --delete (forget every entry)', 2);
  if (flags.delete === true) {
    if (service === undefined) throw new CtlError('--delete needs the SERVICE whose entries to forget', 2);
    if (flags.key !== undefined && flags.all === true) throw new CtlError('give --key K (one client) or --all (every entry), not both', 2);
    if (flags.key === undefined && flags.all !== true) throw new CtlError(`--delete forgets one client with --key K; to forget every entry of ${service}'s table, add --all`, 2);
    const path = `/api/v1/stick-tables/${encodeURIComponent(service)}/entries${flags.key === undefined ? '?all=true' : `/${encodeURIComponent(flags.key)}`}`;
    const { deleted } = await api.call<{ deleted: number }>('DELETE', path);
    if (out.json) return out.write(JSON.stringify({ deleted }) + '\n');
    return out.write(`${service}: ${deleted} entr${deleted === 1 ? 'y' : 'ies'} forgotten\n`);
  }
  if (service === undefined) {
    const tables = await api.call<StickTableSummary[]>('GET', '/api/v1/stick-tables');
    if (out.json) return out.write(JSON.stringify(tables, null, 2) + '\n');
    if (tables.length === 0) return out.write('no stick tables (no service has source-ip or tls-session persistence)\n');
    return out.write(table(['SERVICE', 'METHOD', '>ENTRIES', '>MAX', '>HITS', '>MISSES', '>EXPIRED', '>EVICTED'],
      tables.map((t) => [t.service, t.kernel ? `${t.method} (kernel)` : t.method, t.size, t.capacity, t.hits ?? '-', t.misses ?? '-', t.expirations ?? '-', t.evictions ?? '-'])));
  }
  const query = new URLSearchParams({ limit: flags.limit ?? '100' });
  if (flags.key !== undefined) query.set('key', flags.key);
  const page = await api.call<{ total: number; items: StickEntryView[] }>('GET', `/api/v1/stick-tables/${encodeURIComponent(service)}?${query}`);
  if (out.json) return out.write(JSON.stringify(page, null, 2) + '\n');
  out.write(table(['KEY', 'MEMBER', '>EXPIRES IN'], page.items.map((e) => [e.key, e.member === null ? '(gone)' : `${e.pool}/${e.member}`, duration(e.expiresIn / 1000)])));
  if (page.total > page.items.length) out.write(`(${page.items.length} of ${page.total}; --limit N or --key K)\n`);
}

async function reload(api: Api, out: Out): Promise<void> {
  const result = await api.call<{ changes: string[]; problems: string[] }>('POST', '/api/v1/reload');
  if (out.json) out.write(JSON.stringify(result, null, 2) + '\n');
  else out.write(`reloaded: ${result.changes.length === 0 ? 'nothing changed' : result.changes.join(', ')}\n`);
  if (result.problems.length > 0) throw new CtlError(`applied, with problems:\n  ${result.problems.join('\n  ')}`);
}

async function ha(api: Api, out: Out, flags: Flags): Promise<void> {
  if (flags.handover === true && flags['take-back'] === true) throw new CtlError('give --handover or --take-back, not both', 2);
  const change = flags.handover === true ? true : flags['take-back'] === true ? false : null;
  const s = change === null ? await api.call<HaStatus>('GET', '/api/v1/ha') : await api.call<HaStatus>('POST', '/api/v1/ha/handover', { on: change });
  out.write(out.json ? JSON.stringify(s, null, 2) + '\n' : haText(s));
}

/** Polls the API until it answers: how a service manager learns that furiwake's listeners are bound. */
async function wait(api: Api, out: Out, seconds = '60'): Promise<void> {
  if (!/^\d{1,5}$/.test(seconds)) throw new CtlError(`SECONDS must be a whole number of seconds, got ${seconds}`, 2);
  const deadline = Date.now() + Number(seconds) * 1000;
  while (!(await api.answers())) {
    if (Date.now() >= deadline) throw new CtlError(`the admin API at ${api.base} did not answer within ${seconds} s: is furiwake starting, with an admin section there?`);
    await delay(WAIT_STEP);
  }
  if (!out.json) out.write(`furiwake is up: its admin API answers at ${api.base}\n`);
}
