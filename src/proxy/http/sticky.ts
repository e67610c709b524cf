// Persistence in an http exchange: the client's key for the service's method (its address for
// source-ip, the member id in the URL for url, the value to hash for hash, the cookie's token
// for cookie), which the exchange gives the one rule of runtime/dispatch.ts, and the cookie's
// part of the messages: what the member must not see of furiwake's cookie is taken out of the
// request, and the response's Set-Cookie headers get the member's token.

import type { Member } from '../../runtime/member.ts';
import type { ServicePersistence } from '../../runtime/persistence.ts';
import { type HeaderLines, keptLines, nameIs, readHeaderLines, valueOf } from './header-lines.ts';
import type { RequestHead } from './request-head.ts';

export class Sticky {
  readonly #p: ServicePersistence;
  /** what identifies this client to the method; null when the request carries nothing */
  readonly key: string | null;
  /** cookie: the value the client's cookie held (to know whether it must be set again) */
  readonly #cookieValue: string | undefined;

  /** Reads the request; for cookie insert and prefix, its Cookie field is rewritten for the member. */
  constructor(p: ServicePersistence, req: RequestHead, client: string) {
    this.#p = p;
    const cookie = p.cookie;
    if (p.method.keySource === 'address') {
      this.key = p.clientKey(client);
      this.#cookieValue = undefined;
    } else if (cookie !== null) {
      const header = fieldValues(req.fields, 'cookie', '; ');
      const read = cookie.fromRequest(header);
      this.key = read.value ?? null;
      this.#cookieValue = read.value;
      if (read.forward !== header) req.fields = replaceField(req.fields, 'cookie', read.forward);
    } else {
      // url reads the target; hash may also read a header or a cookie
      this.key = p.requestKey({ target: req.target, header: (name) => fieldList(req.fields, name)[0] });
      this.#cookieValue = undefined;
    }
  }

  /** The response's fields with the cookie set or rewritten to name `member`. */
  responseFields(fields: string, member: Member): string {
    const cookie = this.#p.cookie;
    if (cookie === null) return fields;
    const own = fieldList(fields, 'set-cookie');
    const next = cookie.toResponse(own.length === 0 ? undefined : own, member, this.#cookieValue);
    if (next === undefined || (next.length === own.length && next.every((v, i) => v === own[i]))) return fields;
    let out = removeField(fields, 'set-cookie');
    for (const value of next) out += `set-cookie: ${value}\r\n`;
    return out;
  }
}

// ---- fields as the heads keep them ("Name: value\r\n" lines, already read strictly) ---------

/** The lines of `fields` (read again: they were checked when their head was read, so this cannot throw). */
function linesOf(fields: string): HeaderLines {
  return readHeaderLines(fields, 0, fields.length, 400, Infinity);
}

/** Each line of `fields` whose name is `name` (lowercase): its value, in order. */
function fieldList(fields: string, name: string): string[] {
  const out: string[] = [];
  const lines = linesOf(fields);
  for (let i = 0; i < lines.count; i++) if (nameIs(fields, lines, i, name)) out.push(valueOf(fields, lines, i));
  return out;
}

/** The values of field `name` joined as one (cookies with "; ", lists with ", "); undefined when absent. */
function fieldValues(fields: string, name: string, separator: string): string | undefined {
  const values = fieldList(fields, name);
  return values.length === 0 ? undefined : values.join(separator);
}

function removeField(fields: string, name: string): string {
  const lines = linesOf(fields);
  return keptLines(fields, lines, (i) => !nameIs(fields, lines, i, name));
}

/** `fields` with every `name` line replaced by one carrying `value` (none when undefined). */
function replaceField(fields: string, name: string, value: string | undefined): string {
  const out = removeField(fields, name);
  return value === undefined ? out : `${out}${name}: ${value}\r\n`;
}
