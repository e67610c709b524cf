// Header rules of one request: the service's, then its route's, on the head sent to the member
// and on the member's response head as the client gets it (HTTP/1.1 or HTTP/2: both read the
// same field lines); and the request id, passed to the member and, when asked, echoed. Values
// were read into text and request parts with the config; here they are only joined. Every part
// is text the request parser (or the config) already accepted as visible ASCII, so no value can
// carry a line break into a head. Made per request only for services that have rules or ids.

import type { HeaderEdits, HeaderField, HeaderRulesConfig, HeaderSetting, HeaderValuePart, RequestIdConfig } from '../../config/header-rules-types.ts';
import { type HeaderLines, keptLines, nameIs, readHeaderLines, valueOf } from './header-lines.ts';
import { incomingRequestId, newRequestId, validRequestId } from './request-id.ts';
import type { RequestHead } from './request-head.ts';

/** What the parts of a value read, besides the request head. */
export interface HeaderContext {
  /** canonical address text (the client as persistence sees it) */
  client: string;
  https: boolean;
  service: string;
  /** '' when no route took the request */
  route: string;
}

export class HeaderEditor {
  readonly #service: HeaderRulesConfig | null;
  readonly #route: HeaderRulesConfig | null;
  readonly #req: RequestHead;
  readonly #ctx: HeaderContext;
  readonly #ids: RequestIdConfig | null;
  /** the request's id once known; null until asked (or until its head is written) */
  #id: string | null = null;

  constructor(service: HeaderRulesConfig | null, route: HeaderRulesConfig | null, req: RequestHead, ctx: HeaderContext, ids: RequestIdConfig | null) {
    this.#service = service;
    this.#route = route;
    this.#req = req;
    this.#ctx = ctx;
    this.#ids = ids;
  }

  /** The request's id: its own (one valid field, with keep-incoming) or a new one; '' without request-id. */
  get requestId(): string {
    if (this.#id === null) {
      const ids = this.#ids;
      this.#id = ids === null ? '' : ((ids.keepIncoming ? incomingRequestId(this.#req.fields, ids.lower) : null) ?? newRequestId());
    }
    return this.#id;
  }

  /**
   * The request's fields (host and forwarded ones included) as the member gets them. One pass
   * over the lines drops what the service's rules, the route's and the id replace (and reads the
   * id the request brings); the new lines follow, the service's first, then the route's.
   */
  request(fields: string): string {
    const ids = this.#ids;
    const s = this.#service?.request ?? null;
    const r = this.#route?.request ?? null;
    let out = fields;
    if (ids !== null || drops(s) || drops(r)) {
      let incoming: string | null = null;
      let count = 0;
      const lines = readHeaderLines(fields, 0, fields.length, 400, Infinity);
      out = keptLines(fields, lines, (i) => {
        if (ids !== null && nameIs(fields, lines, i, ids.lower)) {
          if (count++ === 0) incoming = valueOf(fields, lines, i);
          return false;
        }
        return !removes(s, fields, lines, i) && !removes(r, fields, lines, i);
      });
      if (ids !== null) {
        this.#id ??= ids.keepIncoming && count === 1 && validRequestId(incoming!) ? incoming! : newRequestId();
        out += `${ids.header}: ${this.#id}\r\n`;
      }
    }
    if (s !== null) out = this.#append(out, s, r, null);
    if (r !== null) out = this.#append(out, r, null, null);
    return out;
  }

  /** The member's response fields as the client gets them (one pass, as for the request). */
  response(fields: string): string {
    const s = this.#service?.response ?? null;
    const r = this.#route?.response ?? null;
    const echo = this.#ids !== null && this.#ids.echo ? this.#ids.lower : null;
    let out = fields;
    if (echo !== null || drops(s) || drops(r)) {
      const lines = readHeaderLines(fields, 0, fields.length, 502, Infinity);
      out = keptLines(fields, lines, (i) => (echo === null || !nameIs(fields, lines, i, echo)) && !removes(s, fields, lines, i) && !removes(r, fields, lines, i));
    }
    if (s !== null) out = this.#append(out, s, r, echo);
    if (r !== null) out = this.#append(out, r, null, echo);
    if (echo !== null) out += `${this.#ids!.header}: ${this.requestId}\r\n`;
    return out;
  }

  /** `out` with the fields `edits` set and add, but those a later rule (`later`, the echoed id) replaces. */
  #append(out: string, edits: HeaderEdits, later: HeaderEdits | null, echo: string | null): string {
    return this.#lines(this.#lines(out, edits.set, later, echo), edits.add, later, echo);
  }

  #lines(out: string, list: readonly HeaderSetting[], later: HeaderEdits | null, echo: string | null): string {
    for (const h of list) {
      if (h.lower === echo || (later !== null && replaces(later, h.lower))) continue;
      out += `${h.name}: ${this.#value(h.parts)}\r\n`;
    }
    return out;
  }

  #value(parts: readonly HeaderValuePart[]): string {
    let out = '';
    for (const part of parts) out += typeof part === 'string' ? part : this.#field(part.field);
    return out;
  }

  #field(field: HeaderField): string {
    const req = this.#req;
    switch (field) {
      case 'client':
        return this.#ctx.client;
      case 'host':
        return req.host ?? '';
      case 'path': {
        const q = req.target.indexOf('?');
        return q === -1 ? req.target : req.target.slice(0, q);
      }
      case 'query': {
        const q = req.target.indexOf('?');
        return q === -1 ? '' : req.target.slice(q);
      }
      case 'method':
        return req.method;
      case 'scheme':
        return this.#ctx.https ? 'https' : 'http';
      case 'service':
        return this.#ctx.service;
      case 'route':
        return this.#ctx.route;
      case 'request-id':
        return this.requestId;
    }
  }
}

/** The rules take fields out (delete, or set: which replaces them). */
function drops(edits: HeaderEdits | null): boolean {
  return edits !== null && (edits.delete.length > 0 || edits.set.length > 0);
}

/** Line i is one `edits` deletes or sets. */
function removes(edits: HeaderEdits | null, fields: string, lines: HeaderLines, i: number): boolean {
  if (edits === null) return false;
  for (const name of edits.delete) if (nameIs(fields, lines, i, name)) return true;
  for (const h of edits.set) if (nameIs(fields, lines, i, h.lower)) return true;
  return false;
}

/** `edits` deletes or sets the field `lower`. */
function replaces(edits: HeaderEdits, lower: string): boolean {
  if (edits.delete.includes(lower)) return true;
  for (const h of edits.set) if (h.lower === lower) return true;
  return false;
}

/** Whether a request's head needs an editor: rules on the service or the route, or request ids. */
export function editsHeaders(service: HeaderRulesConfig | null, route: HeaderRulesConfig | null | undefined, requestId: RequestIdConfig | null): boolean {
  return service !== null || (route ?? null) !== null || requestId !== null;
}
