// An access log format compiled once per config: the fields as numbers in order, the template's
// text between them. Rendering a request is a loop over them, with no parsing and no closure.
//   json: {"client":"192.0.2.1","status":200,...}  only the chosen fields, in their order;
//         an absent value (no route, no member) is null.
//   line: the template filled in; an absent or empty value is `-`, and in text values `"`, `\`,
//         control and non-ASCII characters are written \xHH, as nginx does, so a line stays one line.

import type { AccessLogConfig } from '../config/logs-types.ts';
import { ACCESS_FIELDS, type AccessField } from '../config/log-fields.ts';
import { isoNow } from './clock.ts';

/**
 * One request as the access log sees it (proxy/http/access-log.ts fills it in), or one tcp
 * connection or udp flow that ended (proxy/connection-log.ts): those have no method, path or
 * status, and say their pool, the bytes from the client and why they ended.
 */
export interface AccessEntry {
  /** the client: behind trusted proxies, the address X-Forwarded-For names */
  client: string;
  /** the address that sent the request, when it is not the client (a trusted proxy) */
  peer?: string;
  service: string;
  /** the route that took the request; absent when the service's pool did (no route matched) */
  route?: string;
  member: string | null;
  /** HTTP/1.1, HTTP/1.0 or HTTP/2: what the client spoke; tcp or udp for a connection line */
  protocol: string;
  method?: string;
  path?: string;
  status?: number;
  /** bytes sent to the client for this request, head included (tcp, udp: for the whole connection) */
  bytes: number;
  /** tcp, udp: the pool of the member (absent without one) */
  pool?: string;
  /** tcp, udp: bytes from the client */
  bytesIn?: number;
  /** tcp, udp: why the connection (flow) ended */
  termination?: string;
  /** the request's X-Request-Id, when the service has one */
  requestId?: string;
  /** h2 or h2c when the member was spoken to in HTTP/2 (the pool's member-protocol); absent for HTTP/1.1 */
  memberProtocol?: string;
}

/** The times of one request in milliseconds (written rounded to tenths). */
export interface AccessTimes {
  queue: number;
  connect: number;
  firstByte: number;
}

const CODE: Readonly<Record<AccessField, number>> = Object.fromEntries(ACCESS_FIELDS.map((f, i) => [f, i])) as Record<AccessField, number>;

export class AccessFormat {
  readonly #json: boolean;
  /** field codes, in order */
  readonly #fields: number[];
  /** json: `{"name":`, `,"name":`...; line: the text before each field, and one more after the last */
  readonly #texts: string[];

  constructor(config: AccessLogConfig) {
    this.#json = config.format === 'json';
    if (this.#json) {
      this.#fields = config.fields.map((f) => CODE[f]);
      this.#texts = config.fields.map((f, i) => `${i === 0 ? '{' : ','}${JSON.stringify(f)}:`);
      this.#texts.push('}');
      return;
    }
    this.#fields = [];
    this.#texts = [''];
    for (const part of config.template) {
      if ('text' in part) this.#texts[this.#texts.length - 1] += part.text;
      else {
        this.#fields.push(CODE[part.field]);
        this.#texts.push('');
      }
    }
  }

  /** `total`: the request's whole time (ms) */
  render(e: AccessEntry, t: AccessTimes, total: number): string {
    const fields = this.#fields;
    const texts = this.#texts;
    const json = this.#json;
    let out = texts[0];
    for (let i = 0; i < fields.length; i++) {
      out += json ? jsonValue(fields[i], e, t, total) : lineValue(fields[i], e, t, total);
      out += texts[i + 1];
    }
    return out;
  }
}

/** The value of field `code`: a string, a number, or undefined when the request has none. */
function value(code: number, e: AccessEntry, t: AccessTimes, total: number): string | number | undefined {
  switch (code) {
    case 0: return isoNow();
    case 1: return e.client;
    case 2: return e.peer;
    case 3: return e.service;
    case 4: return e.route;
    case 5: return e.member ?? undefined;
    case 6: return e.protocol;
    case 7: return e.method;
    case 8: return e.path;
    case 9: return e.status;
    case 10: return e.bytes;
    case 11: return ms(t.queue);
    case 12: return ms(t.connect);
    case 13: return ms(t.firstByte);
    case 14: return ms(total);
    case 15: return e.requestId;
    case 16: return e.memberProtocol;
    case 17: return e.pool;
    case 18: return e.bytesIn;
    default: return e.termination;
  }
}

function jsonValue(code: number, e: AccessEntry, t: AccessTimes, total: number): string {
  const v = value(code, e, t, total);
  if (v === undefined) return 'null';
  if (typeof v === 'number') return String(v);
  return plain(v) ? `"${v}"` : JSON.stringify(v);
}

function lineValue(code: number, e: AccessEntry, t: AccessTimes, total: number): string {
  const v = value(code, e, t, total);
  if (v === undefined || v === '') return '-';
  if (typeof v === 'number') return String(v);
  return plain(v) ? v : escaped(v);
}

/** Tenths of a millisecond are plenty for a log. */
export function ms(value: number): number {
  return Math.round(value * 10) / 10;
}

/** True when `s` needs no escaping, in JSON or in a line: printable ASCII without `"` and `\`. */
function plain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

function escaped(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) out += c > 0xff ? `\\u${c.toString(16).padStart(4, '0')}` : `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += s[i];
  }
  return out;
}
