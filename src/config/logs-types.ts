// The `logs` section, normalized: where the process log and the access log go, the access log's
// format, and the syslog server both may use.

import type { AccessField, TemplatePart } from './log-fields.ts';

/** Where a log goes: stdout, a file (appended to, reopened on SIGUSR1), or the `logs.syslog` server. */
export type LogTarget = { kind: 'stdout' } | { kind: 'file'; path: string } | { kind: 'syslog' };

export interface AccessLogConfig {
  /** json: one object per line with `fields`; line: `template` filled in */
  format: 'json' | 'line';
  /** json only: the fields, in this order */
  fields: AccessField[];
  /** line only: the template, parsed */
  template: TemplatePart[];
  to: LogTarget;
}

export type SyslogTransport = 'udp' | 'tcp' | 'unix';

export interface SyslogConfig {
  transport: SyslogTransport;
  /** udp and tcp */
  host: string;
  port: number;
  /** unix: the socket's path (a stream socket) */
  path: string;
  /** the facility's number (local0 = 16) */
  facility: number;
  appName: string;
  /** the HOSTNAME field; null: this machine's name */
  hostname: string | null;
  /** what waits for the server (tcp and unix, while connecting or when it reads slowly); beyond it lines are dropped and counted (bytes) */
  buffer: number;
}

export interface LogsConfig {
  /** null: each request is an info line 'request' of the process log, as without the section */
  access: AccessLogConfig | null;
  process: { to: LogTarget };
  syslog: SyslogConfig | null;
}
