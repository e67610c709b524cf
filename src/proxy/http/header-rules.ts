// Header rules of one request: the service's, then its route's, on the head sent to the member
// and on the member's response head as the client gets it (HTTP/1.1 or HTTP/2: both read the
// same field lines); and the request id, passed to the member and, when asked, echoed. Values
// were read into text and request parts with the config; here they are only joined. Every part
// is text the request parser (or the config) already accepted as visible ASCII, so no value can
// carry a line break into a head. Made per request only for services that have rules or ids.

import type { HeaderEdits, HeaderField, HeaderRulesConfig, HeaderValuePart, RequestIdConfig } from '../../config/header-rules-types.ts';
import { keptLines, nameIs, readHeaderLines } from './header-lines.ts';
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
  readonly #idConfig: RequestIdConfig | null;
  /** the request's id; '' without request-id */
  readonly requestId: string;
  /** the id is not the request's own single field: it is written anew */
  readonly #writeId: boolean;

  /** `id`: the request's id (its own when kept), and whether the head must be given it. */
  constructor(service: HeaderRulesConfig | null, route: HeaderRulesConfig | null, req: RequestHead, ctx: HeaderContext, idConfig: RequestIdConfig | null, id: string, writeId: boolean) {
    this.#service = service;
    this.#route = route;
    this.#req = req;
    this.#ctx = ctx;
    this.#idConfig = idConfig;
    this.requestId = id;
    this.#writeId = writeId;
  }

  /** The request's fields (host and forwarded ones included) as the member gets them. */
  request(fields: string): string {
    const id = this.#idConfig;
    if (id !== null && this.#writeId) fields = `${without(fields, [id.lower])}${id.header}: ${this.requestId}\r\n`;
    const s = this.#service?.request;
    if (s != null) fields = this.#apply(fields, s);
    const r = this.#route?.request;
    if (r != null) fields = this.#apply(fields, r);
    return fields;
  }

  /** The member's response fields as the client gets them. */
  response(fields: string): string {
    const s = this.#service?.response;
    if (s != null) fields = this.#apply(fields, s);
    const r = this.#route?.response;
    if (r != null) fields = this.#apply(fields, r);
    const id = this.#idConfig;
    if (id !== null && id.echo) fields = `${without(fields, [id.lower])}${id.header}: ${this.requestId}\r\n`;
    return fields;
  }

  #apply(fields: string, edits: HeaderEdits): string {
    let out = fields;
    if (edits.delete.length > 0 || edits.set.length > 0) out = without(fields, edits.delete, edits.set);
    for (const s of edits.set) out += `${s.name}: ${this.#value(s.parts)}\r\n`;
    for (const s of edits.add) out += `${s.name}: ${this.#value(s.parts)}\r\n`;
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

/** `fields` without the lines named in `names` (lowercase) or by a setting in `settings`. */
function without(fields: string, names: readonly string[], settings: readonly { lower: string }[] = []): string {
  if (fields === '') return fields;
  // the lines were read strictly with their head (or written by furiwake): this cannot throw
  const lines = readHeaderLines(fields, 0, fields.length, 400, Infinity);
  return keptLines(fields, lines, (i) => {
    for (const name of names) if (nameIs(fields, lines, i, name)) return false;
    for (const s of settings) if (nameIs(fields, lines, i, s.lower)) return false;
    return true;
  });
}

/** Whether a request's head needs an editor: rules on the service or the route, or request ids. */
export function editsHeaders(service: HeaderRulesConfig | null, route: HeaderRulesConfig | null | undefined, requestId: RequestIdConfig | null): boolean {
  return service !== null || (route ?? null) !== null || requestId !== null;
}
