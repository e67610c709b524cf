// The `logs` section: the process log's destination, the access log's format and destination,
// and the syslog server. Without the section: the process log on stdout, and each http request
// an info line 'request' in it (as before the section existed).

import { z } from 'zod';
import { parseAddress } from './address.ts';
import { ACCESS_FIELDS, fieldNamed, parseTemplate, type AccessField, type TemplatePart } from './log-fields.ts';
import { describe, expected, fail, ok, type Parsed } from './issues.ts';
import { integer, leaf, oneOf, optional, section } from './schema-parts.ts';
import type { AccessLogConfig, LogsConfig, LogTarget, SyslogConfig } from './logs-types.ts';

export const LOGS_DEFAULTS = { appName: 'furiwake', facility: 'local0', buffer: 1024 * 1024 } as const;

/** RFC 5424's facilities by name, with their numbers. */
export const FACILITIES: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  ntp: 12, security: 13, console: 14, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

const target = leaf((input): Parsed<LogTarget> => {
  if (input === 'stdout') return ok({ kind: 'stdout' });
  if (input === 'syslog') return ok({ kind: 'syslog' });
  if (typeof input === 'string' && input.startsWith('file:')) {
    const path = input.slice(5);
    if (path.startsWith('/') && path.length > 1 && !path.endsWith('/') && !path.includes('\0')) return ok({ kind: 'file', path });
    return fail(`expected file: followed by an absolute path to a file (file:/var/log/furiwake/access.log), got ${describe(input)}`);
  }
  return fail(expected('stdout, syslog or file:/absolute/path', input));
});

const template = leaf((input): Parsed<TemplatePart[]> => {
  if (typeof input !== 'string') return fail(expected('a line template such as \'$client - [$time] "$method $path $protocol" $status $bytes\'', input));
  const parsed = parseTemplate(input);
  return parsed.ok ? ok(parsed.parts) : fail(parsed.message);
});

const field = leaf((input): Parsed<AccessField> => {
  const found = typeof input === 'string' ? fieldNamed(input) : null;
  return found !== null ? ok(found) : fail(expected(`a field: ${ACCESS_FIELDS.join(', ')}`, input));
});

const accessSchema = section('a map with format, fields, line and to', {
  format: oneOf(['json', 'line'] as const).optional(),
  fields: z.array(field, { error: (issue) => expected('a list of field names', issue.input) }).min(1, { error: 'expected at least one field, got an empty list' }).optional(),
  line: template.optional(),
  to: target.default({ kind: 'stdout' }),
}).superRefine((a, ctx) => {
  const format = a.format ?? (a.line !== undefined ? 'line' : 'json');
  if (format === 'line' && a.line === undefined) ctx.addIssue({ code: 'custom', path: ['line'], message: 'missing; format line needs a line template such as \'$client - [$time] "$method $path $protocol" $status $bytes\'' });
  if (format === 'json' && a.line !== undefined) ctx.addIssue({ code: 'custom', path: ['line'], message: 'a line template is for format: line; format json writes the fields listed in fields' });
  if (format === 'line' && a.fields !== undefined) ctx.addIssue({ code: 'custom', path: ['fields'], message: 'fields is for format: json; format line writes the fields its template names' });
}).transform((a): AccessLogConfig => ({
  format: a.format ?? (a.line !== undefined ? 'line' : 'json'),
  fields: a.fields ?? [...ACCESS_FIELDS],
  template: a.line ?? [],
  to: a.to,
}));

const SYSLOG_FORM = 'udp://host:port, tcp://host:port or unix:/path/to/socket';

const syslogAddress = leaf((input): Parsed<Pick<SyslogConfig, 'transport' | 'host' | 'port' | 'path'>> => {
  if (typeof input !== 'string') return fail(expected(SYSLOG_FORM, input));
  if (input.startsWith('unix:')) {
    const path = input.slice(5);
    return path.startsWith('/') && path.length > 1 && path.length < 108 && !path.includes('\0')
      ? ok({ transport: 'unix', host: '', port: 0, path })
      : fail(`expected unix: followed by the absolute path of a stream socket (shorter than 108 characters), got ${describe(input)}`);
  }
  const scheme = input.startsWith('udp://') ? 'udp' : input.startsWith('tcp://') ? 'tcp' : null;
  if (scheme === null) return fail(expected(SYSLOG_FORM, input));
  const address = parseAddress(input.slice(6), { allowPortZero: false });
  if (!address.ok) return fail(`${address.message} (in ${describe(input)})`);
  return ok({ transport: scheme, host: address.value.host, port: address.value.port, path: '' });
});

/** RFC 5424: APP-NAME is 1-48 printable ASCII characters, HOSTNAME 1-255. */
const printable = (max: number) => leaf((input): Parsed<string> =>
  typeof input === 'string' && input.length >= 1 && input.length <= max && /^[\x21-\x7e]+$/.test(input)
    ? ok(input)
    : fail(expected(`1 to ${max} printable ASCII characters without spaces`, input)));

const syslogSchema = section('a map with address, facility, app-name, hostname and buffer', {
  address: syslogAddress,
  facility: oneOf(Object.keys(FACILITIES)).default(LOGS_DEFAULTS.facility),
  'app-name': printable(48).default(LOGS_DEFAULTS.appName),
  hostname: printable(255).optional(),
  buffer: integer(1024, 64 * 1024 * 1024).default(LOGS_DEFAULTS.buffer),
}).transform((s): SyslogConfig => ({
  ...s.address, facility: FACILITIES[s.facility], appName: s['app-name'], hostname: s.hostname ?? null, buffer: s.buffer,
}));

export const logsSchema = optional(section('a map with access, process and syslog', {
  access: accessSchema.optional(),
  process: optional(section('a map with to', { to: target.default({ kind: 'stdout' }) })),
  syslog: syslogSchema.optional(),
}).superRefine((l, ctx) => {
  if (l.syslog !== undefined) return;
  if (l.access?.to.kind === 'syslog') ctx.addIssue({ code: 'custom', path: ['access', 'to'], message: 'syslog needs a logs.syslog section with the server\'s address (syslog: { address: udp://127.0.0.1:514 })' });
  if (l.process.to.kind === 'syslog') ctx.addIssue({ code: 'custom', path: ['process', 'to'], message: 'syslog needs a logs.syslog section with the server\'s address (syslog: { address: udp://127.0.0.1:514 })' });
}).transform((l): LogsConfig => ({ access: l.access ?? null, process: { to: l.process.to }, syslog: l.syslog ?? null })));
