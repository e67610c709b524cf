// Reading a request's header fields and query for route conditions, in place: the fields are
// the head's end-to-end lines (`Name: value` CRLF, already checked by the parser), the query is
// the target after `?`. Names compare without regard to case (fields) or exactly (query); values
// compare as sent. Nothing is copied unless a regex must read the value.

import type { HeaderCondition, QueryCondition } from '../config/routes-types.ts';

export interface HeaderTest {
  readonly cond: HeaderCondition;
  readonly regex: RegExp | null;
}

/** Where nextField() found the value it found: fields[valueStart..valueStop), without its surrounding spaces. */
let valueStart = 0;
let valueStop = 0;

/** The line after the next `name` (lowercase) line of `fields` from `line` on (its value in valueStart..valueStop); -1: none. */
function nextField(fields: string, name: string, line: number): number {
  while (line < fields.length) {
    const eol = fields.indexOf('\r\n', line);
    const end = eol === -1 ? fields.length : eol;
    if (fields.charCodeAt(line + name.length) === 0x3a /* : */ && sameName(fields, line, name)) {
      let start = line + name.length + 1;
      let stop = end;
      while (start < stop && isOws(fields.charCodeAt(start))) start++;
      while (stop > start && isOws(fields.charCodeAt(stop - 1))) stop--;
      valueStart = start;
      valueStop = stop;
      return end + 2;
    }
    line = end + 2;
  }
  return -1;
}

/** Whether some `cond.name` line of `fields` satisfies the condition. */
export function headerHolds(fields: string, test: HeaderTest): boolean {
  for (let line = nextField(fields, test.cond.name, 0); line >= 0; line = nextField(fields, test.cond.name, line)) {
    if (valueHolds(fields, valueStart, valueStop, test)) return true;
  }
  return false;
}

/**
 * Where the value of the first `name` (lowercase) line of `fields` is, without its surrounding
 * spaces: `bounds` gets its start and end (nothing is copied). False when absent or empty.
 */
export function headerBounds(fields: string, name: string, bounds: Int32Array): boolean {
  if (nextField(fields, name, 0) < 0 || valueStop === valueStart) return false;
  bounds[0] = valueStart;
  bounds[1] = valueStop;
  return true;
}

function valueHolds(fields: string, start: number, stop: number, test: HeaderTest): boolean {
  switch (test.cond.kind) {
    case 'present':
      return true;
    case 'equal':
      return stop - start === test.cond.value.length && fields.startsWith(test.cond.value, start);
    case 'regex':
      return test.regex!.test(fields.slice(start, stop));
  }
}

/** `fields[at..]` starts with `name` (lowercase), in any case. */
function sameName(fields: string, at: number, name: string): boolean {
  for (let j = 0; j < name.length; j++) {
    let c = fields.charCodeAt(at + j);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== name.charCodeAt(j)) return false;
  }
  return true;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Whether the query `target[from..]` (just after `?`) has the parameter, with the value if one is asked. */
export function queryHolds(target: string, from: number, cond: QueryCondition): boolean {
  const name = cond.name;
  let at = from;
  while (at <= target.length) {
    const amp = target.indexOf('&', at);
    const end = amp === -1 ? target.length : amp;
    if (target.startsWith(name, at)) {
      const after = at + name.length;
      if (after === end) {
        if (cond.value === null || cond.value === '') return true;
      } else if (target.charCodeAt(after) === 0x3d /* = */) {
        const value = cond.value;
        if (value === null || (end - after - 1 === value.length && target.startsWith(value, after + 1))) return true;
      }
    }
    if (amp === -1) return false;
    at = amp + 1;
  }
  return false;
}
