// The health section of a pool (and a member's override): monitors of eight types, the rule
// that combines them, the agent, the initial state. Each monitor type is a strict map of its
// own keys, chosen by `type`, so a key of another type is an error, not silently ignored.

import { z } from 'zod';
import type {
  AgentConfig,
  DnsMonitor,
  GrpcMonitor,
  HealthConfig,
  HealthRule,
  HttpMonitor,
  IcmpMonitor,
  Matcher,
  MonitorCommon,
  MonitorConfig,
  MonitorTls,
  MonitorType,
  RadiusMonitor,
  ScriptMonitor,
  SipMonitor,
  TcpMonitor,
  UdpMonitor,
} from './health-types.ts';
import { expected, fail, ok, type Parsed } from './issues.ts';
import { boolean, duration, integer, leaf, oneOf, optional, section } from './schema-parts.ts';

export const MONITOR_TYPES = ['icmp', 'tcp', 'udp', 'http', 'https', 'grpc', 'sip', 'radius', 'dns', 'script'] as const satisfies readonly MonitorType[];

export const HEALTH_DEFAULTS = {
  interval: 2_000,
  timeout: 1_000,
  rise: 2,
  fall: 3,
  maxBody: 64 * 1024,
  agentInterval: 5_000,
  agentTimeout: 2_000,
} as const;

// ---- leaves -------------------------------------------------------------------------------

const text = leaf((input): Parsed<string> =>
  typeof input === 'string' ? ok(input) : typeof input === 'number' ? ok(String(input)) : fail(expected('text', input)));

const nonEmpty = leaf((input): Parsed<string> =>
  typeof input === 'string' && input !== '' ? ok(input) : fail(expected('non-empty text', input)));

const hex = leaf((input): Parsed<string> => {
  const s = typeof input === 'string' ? input.replace(/\s+/g, '').toLowerCase() : '';
  return s !== '' && /^([0-9a-f]{2})+$/.test(s) ? ok(s) : fail(expected('hex bytes (pairs of 0-9a-f)', input));
});

const regex = leaf((input): Parsed<string> => {
  if (typeof input !== 'string') return fail(expected('a regular expression', input));
  try {
    new RegExp(input);
    return ok(input);
  } catch (err) {
    return fail(`not a valid regular expression: ${(err as Error).message}`);
  }
});

const port = integer(1, 65_535);

/** A status, a range "200-299", or a list of them. */
const statusRanges = leaf((input): Parsed<[number, number][]> => {
  const items = Array.isArray(input) ? input : [input];
  const ranges: [number, number][] = [];
  for (const item of items) {
    const m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(String(item));
    const lo = m === null ? NaN : Number(m[1]);
    const hi = m === null ? NaN : Number(m[2] ?? m[1]);
    if (!(lo >= 100 && hi <= 599 && lo <= hi)) return fail(expected('a status (200), a range ("200-299") or a list of them', input));
    ranges.push([lo, hi]);
  }
  return ranges.length > 0 ? ok(ranges) : fail(expected('at least one status', input));
});

const sipStatuses = leaf((input): Parsed<number[]> => {
  const items = Array.isArray(input) ? input : [input];
  const codes = items.map((i) => Number(i));
  return codes.length > 0 && codes.every((c) => Number.isInteger(c) && c >= 200 && c <= 699)
    ? ok(codes)
    : fail(expected('a final SIP status (200-699) or a list of them', input));
});

/** "64k", "1m" or a number of bytes. */
const size = leaf((input): Parsed<number> => {
  const m = /^(\d+)\s*([km]?)i?b?$/i.exec(String(input));
  if (m === null) return fail(expected('a size in bytes ("65536", "64k", "1m")', input));
  const n = Number(m[1]) * (m[2].toLowerCase() === 'k' ? 1024 : m[2].toLowerCase() === 'm' ? 1024 * 1024 : 1);
  return n >= 1 && n <= 16 * 1024 * 1024 ? ok(n) : fail(expected('a size from 1 byte to 16m', input));
});

const rule = leaf((input): Parsed<HealthRule> => {
  if (input === 'all' || input === 'any') return ok({ kind: input });
  const m = /^at-least\s+(\d+)$/.exec(typeof input === 'string' ? input.trim() : '');
  if (m !== null && Number(m[1]) >= 1) return ok({ kind: 'at-least', n: Number(m[1]) });
  return fail(expected('all, any or "at-least N"', input));
});

// ---- monitors -----------------------------------------------------------------------------

/** Keys every monitor has. */
const common = {
  type: oneOf(MONITOR_TYPES),
  interval: duration({ allowZero: false }).default(HEALTH_DEFAULTS.interval),
  'fast-interval': duration({ allowZero: false }).optional(),
  timeout: duration({ allowZero: false }).default(HEALTH_DEFAULTS.timeout),
  rise: integer(1, 100).default(HEALTH_DEFAULTS.rise),
  fall: integer(1, 100).default(HEALTH_DEFAULTS.fall),
  port: port.optional(),
};

type CommonInput = { interval: number; 'fast-interval'?: number; timeout: number; rise: number; fall: number; port?: number };

function commonOf(m: CommonInput): MonitorCommon {
  return {
    interval: m.interval,
    // while a member changes state it is checked four times as often, so rise/fall take
    // a quarter of the time they would at the steady interval
    fastInterval: m['fast-interval'] ?? Math.max(10, Math.round(m.interval / 4)),
    timeout: m.timeout,
    rise: m.rise,
    fall: m.fall,
    port: m.port ?? null,
  };
}

const matcherKeys = {
  expect: text.optional(),
  'expect-regex': regex.optional(),
  'expect-hex': hex.optional(),
};

/** The one expect-* key given, as a Matcher; more than one is an error. */
function matcherOf(m: { expect?: string; 'expect-regex'?: string; 'expect-hex'?: string }, ctx: z.RefinementCtx): Matcher | null {
  const given = (['expect', 'expect-regex', 'expect-hex'] as const).filter((k) => m[k] !== undefined);
  if (given.length > 1) {
    ctx.addIssue({ code: 'custom', path: [given[1]], message: `give one of expect, expect-regex, expect-hex; ${given.join(' and ')} are both set` });
    return null;
  }
  if (m['expect-regex'] !== undefined) return { kind: 'regex', value: m['expect-regex'] };
  if (m['expect-hex'] !== undefined) return { kind: 'hex', value: m['expect-hex'] };
  if (m.expect !== undefined) return { kind: 'string', value: m.expect };
  return null;
}

function payload(m: { send?: string; 'send-hex'?: string }, ctx: z.RefinementCtx): Buffer | null {
  if (m.send !== undefined && m['send-hex'] !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['send-hex'], message: 'give send or send-hex, not both' });
  }
  if (m['send-hex'] !== undefined) return Buffer.from(m['send-hex'], 'hex');
  return m.send !== undefined ? Buffer.from(m.send, 'utf8') : null;
}

const icmp = section('an icmp monitor', { ...common }).transform((m): IcmpMonitor => ({ type: 'icmp', ...commonOf(m) }));

const tcp = section('a tcp monitor', { ...common, send: text.optional(), 'send-hex': hex.optional(), ...matcherKeys })
  .transform((m, ctx): TcpMonitor => ({ type: 'tcp', ...commonOf(m), send: payload(m, ctx), expect: matcherOf(m, ctx) }));

const udp = section('a udp monitor', { ...common, send: text.optional(), 'send-hex': hex.optional(), ...matcherKeys })
  .transform((m, ctx): UdpMonitor => {
    const special = m.expect === 'any' || m.expect === 'no-unreachable' ? m.expect : null;
    if (special !== null && (m['expect-regex'] !== undefined || m['expect-hex'] !== undefined)) {
      ctx.addIssue({ code: 'custom', path: [m['expect-regex'] !== undefined ? 'expect-regex' : 'expect-hex'], message: `expect: ${special} takes no reply pattern; remove this key or expect` });
    }
    const matcher = special === null ? matcherOf(m, ctx) : null;
    return { type: 'udp', ...commonOf(m), send: payload(m, ctx) ?? Buffer.alloc(0), expect: special ?? matcher ?? 'any' };
  });

const httpKeys = {
  ...common,
  method: oneOf(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'] as const).default('GET'),
  // what Node.js (and HTTP) accept in a request target: visible ASCII, no spaces
  path: leaf((input): Parsed<string> => (typeof input === 'string' && /^\/[\x21-\x7e]*$/.test(input)
    ? ok(input)
    : fail(expected('a path starting with /, in visible ASCII without spaces (write a space as %20)', input)))).default('/'),
  host: nonEmpty.optional(),
  headers: z.record(z.string(), text, { error: (issue) => expected('a map of header names to values', issue.input) }).optional(),
  body: text.optional(),
  'expect-status': statusRanges.optional(),
  'expect-body': text.optional(),
  'expect-body-regex': regex.optional(),
  'max-body': size.default(HEALTH_DEFAULTS.maxBody),
};

const tlsKeys = {
  sni: nonEmpty.optional(),
  verify: boolean.default(false),
  ca: nonEmpty.optional(),
  cert: nonEmpty.optional(),
  key: nonEmpty.optional(),
};

type HttpInput = z.output<ReturnType<typeof section<typeof httpKeys & Partial<typeof tlsKeys>>>>;

type TlsInput = { sni?: string; verify?: boolean; ca?: string; cert?: string; key?: string };

function tlsOf(m: TlsInput, ctx: z.RefinementCtx): MonitorTls {
  if ((m.cert === undefined) !== (m.key === undefined)) {
    ctx.addIssue({ code: 'custom', path: [m.cert === undefined ? 'cert' : 'key'], message: 'a client certificate needs both cert and key' });
  }
  return { sni: m.sni ?? null, verify: m.verify ?? false, ca: m.ca ?? null, cert: m.cert ?? null, key: m.key ?? null };
}

function httpOf(type: 'http' | 'https', m: HttpInput & TlsInput, ctx: z.RefinementCtx): HttpMonitor {
  if (m['expect-body'] !== undefined && m['expect-body-regex'] !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['expect-body-regex'], message: 'give expect-body or expect-body-regex, not both' });
  }
  // what Node.js would refuse to send at every check: found here, with the header named
  for (const [name, value] of Object.entries(m.headers ?? {})) {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
      ctx.addIssue({ code: 'custom', path: ['headers', name], message: `a header name is letters, digits and !#$%&'*+-.^_\`|~, got ${JSON.stringify(name)}` });
    } else if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
      ctx.addIssue({ code: 'custom', path: ['headers', name], message: 'a header value cannot hold control characters (line breaks, NUL)' });
    }
  }
  const expectBody: Matcher | null = m['expect-body-regex'] !== undefined
    ? { kind: 'regex', value: m['expect-body-regex'] }
    : m['expect-body'] !== undefined ? { kind: 'string', value: m['expect-body'] } : null;
  return {
    type,
    ...commonOf(m),
    method: m.method,
    path: m.path,
    host: m.host ?? null,
    headers: m.headers ?? {},
    body: m.body ?? null,
    expectStatus: m['expect-status'] ?? [[200, 399]],
    expectBody,
    maxBody: m['max-body'],
    tls: tlsOf(m, ctx),
  };
}

const http = section('an http monitor', httpKeys).transform((m, ctx) => httpOf('http', m, ctx));
const https = section('an https monitor', { ...httpKeys, ...tlsKeys }).transform((m, ctx) => httpOf('https', m, ctx));

const grpc = section('a grpc monitor', {
  ...common,
  service: text.default(''),
  authority: nonEmpty.optional(),
  tls: boolean.default(false),
  ...tlsKeys,
  // (no default here: a verify given without tls: true is reported)
  verify: boolean.optional(),
}).transform((m, ctx): GrpcMonitor => {
  const tlsGiven = (['sni', 'verify', 'ca', 'cert', 'key'] as const).find((k) => m[k] !== undefined);
  if (!m.tls && tlsGiven !== undefined) {
    ctx.addIssue({ code: 'custom', path: [tlsGiven], message: `${tlsGiven} applies to TLS only: add tls: true, or remove ${tlsGiven}` });
  }
  return { type: 'grpc', ...commonOf(m), service: m.service, authority: m.authority ?? null, tls: m.tls ? tlsOf(m, ctx) : null };
});

const sip = section('a sip monitor', {
  ...common,
  transport: oneOf(['udp', 'tcp'] as const).default('udp'),
  method: oneOf(['OPTIONS', 'REGISTER'] as const).default('OPTIONS'),
  uri: leaf((input): Parsed<string> => (typeof input === 'string' && /^sips?:/.test(input) ? ok(input) : fail(expected('a SIP URI (sip:...)', input)))).optional(),
  user: nonEmpty.default('furiwake'),
  'expect-status': sipStatuses.default([200]),
}).transform((m): SipMonitor => ({
  type: 'sip', ...commonOf(m), transport: m.transport, method: m.method, uri: m.uri ?? null, user: m.user, expectStatus: m['expect-status'],
}));

const radius = section('a radius monitor: a map with secret, username and password', {
  ...common,
  secret: nonEmpty,
  username: nonEmpty,
  password: text,
  'nas-identifier': nonEmpty.default('furiwake'),
  expect: oneOf(['accept', 'any'] as const).default('accept'),
}).transform((m): RadiusMonitor => ({
  type: 'radius', ...commonOf(m), secret: m.secret, username: m.username, password: m.password, nasIdentifier: m['nas-identifier'], expect: m.expect,
}));

const DNS_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT'] as const;
const DNS_RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;

const dns = section('a dns monitor: a map with name (and query-type, expect-rcode, expect-answer)', {
  ...common,
  name: nonEmpty,
  'query-type': oneOf(DNS_TYPES).default('A'),
  transport: oneOf(['udp', 'tcp'] as const).default('udp'),
  'expect-rcode': oneOf(DNS_RCODES).default('NOERROR'),
  'expect-answer': nonEmpty.optional(),
}).transform((m): DnsMonitor => ({
  type: 'dns', ...commonOf(m), name: m.name, queryType: m['query-type'], transport: m.transport, expectRcode: m['expect-rcode'], expectAnswer: m['expect-answer'] ?? null,
}));

const script = section('a script monitor: a map with command (and args)', {
  ...common,
  command: nonEmpty,
  args: z.array(text, { error: (issue) => expected('a list of arguments', issue.input) }).default([]),
}).transform((m, ctx): ScriptMonitor => {
  // a program's arguments are C strings: a NUL byte cannot be passed
  if (m.command.includes('\0')) ctx.addIssue({ code: 'custom', path: ['command'], message: 'the command cannot hold a NUL byte' });
  m.args.forEach((arg, i) => {
    if (arg.includes('\0')) ctx.addIssue({ code: 'custom', path: ['args', i], message: 'an argument cannot hold a NUL byte' });
  });
  return { type: 'script', ...commonOf(m), command: m.command, args: m.args };
});

const BY_TYPE: Record<MonitorType, z.ZodType<MonitorConfig>> = { icmp, tcp, udp, http, https, grpc, sip, radius, dns, script };

/**
 * A monitor: `type` chooses the schema of the rest. Issues of that schema keep their paths, so
 * a bad key reads `pools.web.health.monitors[0].expect-status`.
 */
export const monitorSchema = z.unknown().transform((input, ctx): MonitorConfig => {
  const type = (input as { type?: unknown } | null)?.type;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    ctx.addIssue({ code: 'custom', message: expected('a monitor: a map with type (and its keys)', input) });
    return z.NEVER;
  }
  if (!MONITOR_TYPES.includes(type as MonitorType)) {
    ctx.addIssue({ code: 'custom', path: ['type'], message: expected(`a monitor type: ${MONITOR_TYPES.join(', ')}`, type) });
    return z.NEVER;
  }
  const result = BY_TYPE[type as MonitorType].safeParse(input);
  if (result.success) return result.data;
  // The issues keep their own code (an unknown key stays an unknown key, so it is reported as
  // one, with a suggestion); zod prefixes this schema's path.
  for (const issue of result.error.issues) ctx.addIssue(issue as z.core.$ZodRawIssue);
  return z.NEVER;
});

const monitors = z.array(monitorSchema, { error: (issue) => expected('a list of monitors', issue.input) });

const agent = section('an agent: a map with port (and interval, timeout, send)', {
  port,
  interval: duration({ allowZero: false }).default(HEALTH_DEFAULTS.agentInterval),
  timeout: duration({ allowZero: false }).default(HEALTH_DEFAULTS.agentTimeout),
  send: text.optional(),
}).transform((a): AgentConfig => ({ port: a.port, interval: a.interval, timeout: a.timeout, send: a.send ?? null }));

export const healthSchema = optional(section('a map with require, monitors, agent and initial-state', {
  require: rule.default({ kind: 'all' }),
  monitors: monitors.default([]),
  agent: agent.optional(),
  'initial-state': oneOf(['checking', 'up'] as const).default('checking'),
})).superRefine((h, ctx) => {
  if (h.require.kind === 'at-least' && h.require.n > h.monitors.length) {
    ctx.addIssue({ code: 'custom', path: ['require'], message: `at-least ${h.require.n} can never pass with ${h.monitors.length} monitor${h.monitors.length === 1 ? '' : 's'}` });
  }
}).transform((h): HealthConfig => ({ require: h.require, monitors: h.monitors, agent: h.agent ?? null, initialState: h['initial-state'] }));

/** A member's own monitors and rule, replacing the pool's. */
export const memberHealthSchema = section('a map with require and monitors', {
  require: rule.optional(),
  monitors: monitors.optional(),
}).transform((h) => ({ require: h.require ?? null, monitors: h.monitors ?? null }));

