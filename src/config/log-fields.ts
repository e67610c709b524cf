// The access log's fields by name, and the line template (`$client - [$time] "$method $path"`)
// parsed once per config into literal text and fields, so no request parses a template.

import { describe } from './issues.ts';

/** Every field an access log line can hold, in the order a JSON line without `fields` lists them. */
export const ACCESS_FIELDS = [
  'time', 'client', 'peer', 'service', 'route', 'member', 'protocol', 'method', 'path', 'status', 'bytes',
  'queue', 'connect', 'first-byte', 'total', 'request-id', 'member-protocol',
  // tcp and udp connection lines (access-log on a tcp or udp service)
  'pool', 'bytes-in', 'termination',
] as const;
export type AccessField = (typeof ACCESS_FIELDS)[number];

/** A parsed template: literal text and field names, in order (adjacent literals are joined). */
export type TemplatePart = { text: string } | { field: AccessField };

/** The longest template accepted: a log line format, not a document. */
export const MAX_TEMPLATE = 4096;

const FIELD_SET: ReadonlySet<string> = new Set(ACCESS_FIELDS);

/** The field a name stands for: its own spelling, or with `_` for `-` as nginx users write them. */
export function fieldNamed(name: string): AccessField | null {
  const spelled = name.replaceAll('_', '-');
  return FIELD_SET.has(spelled) ? (spelled as AccessField) : null;
}

/**
 * Parses `$name` and `${name}` (a name is letters, digits, `-` and `_`, not ending in `-`, so
 * `$status-$bytes` reads as two fields) and `$$` for a dollar sign. Returns the parts or the
 * reason the template is not one; never throws.
 */
export function parseTemplate(template: string): { ok: true; parts: TemplatePart[] } | { ok: false; message: string } {
  if (template.length > MAX_TEMPLATE) return { ok: false, message: `expected a template of at most ${MAX_TEMPLATE} characters, got ${template.length}` };
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < template.length) {
    const at = template.indexOf('$', i);
    if (at === -1) {
      text += template.slice(i);
      break;
    }
    text += template.slice(i, at);
    let name: string;
    let next: number;
    if (template.charCodeAt(at + 1) === 0x24 /* $ */) {
      text += '$';
      i = at + 2;
      continue;
    }
    if (template.charCodeAt(at + 1) === 0x7b /* { */) {
      const close = template.indexOf('}', at + 2);
      if (close === -1) return { ok: false, message: `\${ at character ${at + 1} has no closing }` };
      name = template.slice(at + 2, close);
      next = close + 1;
    } else {
      let end = at + 1;
      while (end < template.length && isNameChar(template.charCodeAt(end))) end++;
      while (end > at + 1 && template.charCodeAt(end - 1) === 0x2d /* - */) end--;
      name = template.slice(at + 1, end);
      next = end;
    }
    if (name === '') return { ok: false, message: `a $ at character ${at + 1} is not followed by a field name (write $$ for a dollar sign)` };
    const field = fieldNamed(name);
    if (field === null) return { ok: false, message: `unknown field ${describe('$' + name)} at character ${at + 1}; the fields are ${ACCESS_FIELDS.join(', ')}` };
    if (text !== '') parts.push({ text });
    text = '';
    parts.push({ field });
    i = next;
  }
  if (text !== '') parts.push({ text });
  return { ok: true, parts };
}

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
}
