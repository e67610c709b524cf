// The `headers`, `request-id` and `error-pages` keys of an http service (and `headers` of a
// route) as the file writes them. Names are HTTP tokens; the fields that frame a message or
// belong to one connection (Content-Length, Transfer-Encoding, Connection, ...) cannot be
// touched: furiwake writes those itself. Values are visible ASCII with spaces (no CR, LF, NUL
// or other control), read once into text and request parts: `X-Client: "{client} via {host}"`.

import { z } from 'zod';
import type {
  ErrorPage,
  ErrorPagesConfig,
  HeaderEdits,
  HeaderField,
  HeaderRulesConfig,
  HeaderSetting,
  HeaderValuePart,
  RequestIdConfig,
} from './header-rules-types.ts';
import { describe, expected, fail, ok, type Parsed } from './issues.ts';
import { boolean, leaf, section } from './schema-parts.ts';

export const HEADER_FIELDS = ['client', 'host', 'path', 'query', 'method', 'scheme', 'service', 'route', 'request-id'] as const satisfies readonly HeaderField[];

export const REQUEST_ID_DEFAULTS = { header: 'X-Request-Id', keepIncoming: true, echo: false } as const;
/** the largest error page (a file or a body), in bytes */
export const MAX_ERROR_PAGE = 64 * 1024;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Fields furiwake writes itself: the framing, the connection's own, the HTTP/2 settings. */
const RESERVED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'http2-settings']);

/** A header name a rule may act on; `side` says which head (Host cannot leave a request). */
export function headerName(input: unknown, side: 'request' | 'response' | 'either', deleting = false): Parsed<string> {
  if (typeof input !== 'string' || input === '') return fail(expected('a header name like X-Frame-Options', input));
  if (input.startsWith(':')) return fail(`${input} is an HTTP/2 pseudo-header: furiwake writes those itself; set an ordinary header`);
  if (!TOKEN.test(input)) return fail(`${JSON.stringify(input)} is not a header name (letters, digits and !#$%&'*+.^_\`|~-)`);
  const lower = input.toLowerCase();
  if (RESERVED.has(lower)) return fail(`${input} frames the message or belongs to one connection: furiwake writes it itself, a rule cannot`);
  if (deleting && lower === 'host' && side === 'request') return fail('a request to a member needs its Host: set it to another value instead');
  return ok(input);
}

/** `text` as text and request parts; `{{` and `}}` are a literal brace. */
export function parseHeaderValue(text: string): Parsed<HeaderValuePart[]> {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) {
      const what = c === 0x0d || c === 0x0a ? 'a line break' : c === 0 ? 'a NUL' : c > 0x7e ? `${JSON.stringify(text[i])} (only ASCII is sent as is in a header)` : 'a control character';
      return fail(`the header value ${JSON.stringify(text)} holds ${what}`);
    }
  }
  const parts: HeaderValuePart[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '{' && text[i + 1] === '{') {
      literal += '{';
      i += 2;
      continue;
    }
    if (c === '}') {
      if (text[i + 1] !== '}') return fail(`a "}" without its "{" in ${JSON.stringify(text)} (write }} for a brace)`);
      literal += '}';
      i += 2;
      continue;
    }
    if (c !== '{') {
      literal += c;
      i++;
      continue;
    }
    const close = text.indexOf('}', i);
    const name = close === -1 ? '' : text.slice(i + 1, close);
    if (!(HEADER_FIELDS as readonly string[]).includes(name)) {
      return fail(`unknown part {${name}} in ${JSON.stringify(text)}; the parts are ${HEADER_FIELDS.map((f) => `{${f}}`).join(', ')} (write {{ for a brace)`);
    }
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push({ field: name as HeaderField });
    i = close + 1;
  }
  if (literal !== '') parts.push(literal);
  return ok(parts);
}

function settings(side: 'request' | 'response') {
  return leaf((input): Parsed<HeaderSetting[]> => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return fail(expected('a map of header names to values, like { X-Frame-Options: DENY }', input));
    const out: HeaderSetting[] = [];
    for (const [name, raw] of Object.entries(input)) {
      const n = headerName(name, side);
      if (!n.ok) return n;
      const value = typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : raw;
      if (typeof value !== 'string') return fail(`${name}: ${expected('a value (text)', raw)}`);
      const parts = parseHeaderValue(value);
      if (!parts.ok) return fail(`${name}: ${parts.message}`);
      out.push({ name, lower: name.toLowerCase(), value, parts: parts.value });
    }
    return ok(out);
  });
}

function deletions(side: 'request' | 'response') {
  return leaf((input): Parsed<string[]> => {
    const list = typeof input === 'string' ? [input] : input;
    if (!Array.isArray(list)) return fail(expected('a list of header names', input));
    const out: string[] = [];
    for (const name of list) {
      const n = headerName(name, side, true);
      if (!n.ok) return n;
      out.push(n.value.toLowerCase());
    }
    return ok(out);
  });
}

function editsSchema(side: 'request' | 'response') {
  return section(`the ${side} header rules: a map with set, add and delete`, {
    set: settings(side).optional(),
    add: settings(side).optional(),
    delete: deletions(side).optional(),
  }).superRefine((e, ctx) => {
    for (const s of e.set ?? []) {
      if (e.delete?.includes(s.lower) === true) ctx.addIssue({ code: 'custom', path: ['delete'], message: `${s.name} is both set and deleted; set already replaces it` });
    }
  }).transform((e): HeaderEdits => ({ set: e.set ?? [], add: e.add ?? [], delete: e.delete ?? [] }));
}

export const headersSchema = z.preprocess(
  (input) => (input === null ? undefined : input),
  section('header rules: a map with request and response, each with set, add and delete', {
    request: editsSchema('request').optional(),
    response: editsSchema('response').optional(),
  }).transform((h): HeaderRulesConfig => ({ request: h.request ?? null, response: h.response ?? null })).optional(),
);

const requestIdMap = section('a map with header, keep-incoming and echo', {
  header: leaf((input) => headerName(input, 'request', true)).default(REQUEST_ID_DEFAULTS.header),
  'keep-incoming': boolean.default(REQUEST_ID_DEFAULTS.keepIncoming),
  echo: boolean.default(REQUEST_ID_DEFAULTS.echo),
}).transform((r): RequestIdConfig => ({ header: r.header, lower: r.header.toLowerCase(), keepIncoming: r['keep-incoming'], echo: r.echo }));

/** `request-id: true` (the defaults), `false` (none), or a map. */
export const requestIdSchema = z.preprocess((input) => {
  if (input === true || input === 'true') return {};
  if (input === false || input === 'false' || input === null) return undefined;
  return input;
}, requestIdMap.optional());

const CONTENT_TYPE = /^[\x20-\x7e]+$/;
/** the content type of a page file by its extension; others say theirs */
const BY_EXTENSION: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  xml: 'application/xml',
};
const TEXT = 'text/plain; charset=utf-8';

const pageSchema = section('an error page: a map with file or body (and content-type)', {
  file: leaf((input): Parsed<string> => (typeof input === 'string' && input !== '' ? ok(input) : fail(expected('a file path', input)))).optional(),
  body: leaf((input): Parsed<string> => (typeof input === 'string' ? ok(input) : fail(expected('a text', input)))).optional(),
  'content-type': leaf((input): Parsed<string> =>
    typeof input === 'string' && CONTENT_TYPE.test(input) ? ok(input) : fail(expected('a content type like text/html; charset=utf-8', input))).optional(),
}).superRefine((p, ctx) => {
  if ((p.file === undefined) === (p.body === undefined)) ctx.addIssue({ code: 'custom', path: [], message: 'an error page has a file or a body (one of them)' });
  if (p.body !== undefined && Buffer.byteLength(p.body) > MAX_ERROR_PAGE) ctx.addIssue({ code: 'custom', path: ['body'], message: `an error page is at most ${MAX_ERROR_PAGE} bytes` });
  if (p.file !== undefined && p['content-type'] === undefined && contentTypeOf(p.file) === null) {
    ctx.addIssue({ code: 'custom', path: ['content-type'], message: `say the content type of ${p.file} (known by extension: ${Object.keys(BY_EXTENSION).map((e) => `.${e}`).join(', ')})` });
  }
}).transform((p): ErrorPage => ({
  contentType: p['content-type'] ?? (p.file !== undefined ? (contentTypeOf(p.file) ?? TEXT) : TEXT),
  file: p.file ?? null,
  body: p.body ?? '',
}));

function contentTypeOf(file: string): string | null {
  const dot = file.lastIndexOf('.');
  return dot === -1 ? null : (BY_EXTENSION[file.slice(dot + 1).toLowerCase()] ?? null);
}

/** `{ 503: { file: ... }, 404: { body: ..., content-type: ... }, default: ... }` */
export const errorPagesSchema = z.preprocess(
  (input) => (input === null ? undefined : input),
  z.record(
    z.string().refine((key) => key === 'default' || (/^[45]\d\d$/.test(key)), { error: (issue) => `${describe(issue.input)} is not a status of an error furiwake answers: 400 to 599, or default` }),
    pageSchema,
    { error: (issue) => expected('a map of error pages by status (400 to 599, or default)', issue.input) },
  ).transform((pages): ErrorPagesConfig => pages).optional(),
);
