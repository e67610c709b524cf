// A fast reader for the part of YAML that furiwake configs are written in: block maps and
// sequences indented with spaces, plain and quoted one-line scalars, comments, and one-line flow
// collections ([a, b], { k: v }). At 1,000 services and 10,000 members the `yaml` library takes
// most of a second to read the file (its CST, then the document with every node's range); this
// takes a few tens of milliseconds, and a reload's budget is one second.
//
// It gives the values `yaml` gives (core schema, doc.toJS()) and the lines source.ts would give
// for an error's path, or null — "not mine" — for anything else: anchors, aliases, tags,
// directives, several documents, block scalars (| >), multi-line scalars and flow collections,
// tabs, CR, a BOM, a __proto__ key, keys over 1,000 characters, deeper than
// 100 levels, every error and every doubt. Then `yaml` reads the text, so its handling of the rest
// of YAML and its error messages stay the only ones. test/config/yaml-common.test.ts checks the
// two agree on random documents. A key written twice in a map is reported as yaml reports it
// (each a problem of its own, the later value kept), found with the map itself: yaml's check
// compares each key with every other of its map, a second for 5,000 keys.

import type { PathSegment } from './issues.ts';

/** Where each key and item of the value was written: the line lineOf() answers with. */
export interface Position {
  /** 1-based: of the key for a map's entry, of the item for a sequence's, of the first node for the root */
  line: number;
  map?: Map<string, Position>;
  seq?: Position[];
}

export interface CommonYaml {
  value: unknown;
  /** only when asked for (errors need it, a good file does not) */
  positions: Position | null;
  /** keys written again in their map, in the order of the text */
  duplicates: Duplicate[];
}

/** A key written a second time in one map: where (1-based line and column), and its path. */
export interface Duplicate {
  path: PathSegment[];
  key: string;
  line: number;
  column: number;
}

/** Nesting deeper than this is left to `yaml` (which also bounds it): no recursion runs away here. */
const MAX_DEPTH = 100;
/** `yaml` refuses an implicit key longer than 1,024 characters; well below that, no doubt. */
const MAX_KEY = 1000;

/** Thrown to give up: the text is not in the common subset (or is wrong); `yaml` reads it. */
class NotMine extends Error {}
const NOT_MINE = new NotMine();

/** Characters `yaml` may treat otherwise than as plain text (controls, other line breaks, BOM, tabs). */
const OUTSIDE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;
/** Document markers and directives, which open a new document or end one. */
const MARKERS = /^(?:---|\.\.\.)(?:[ \n]|$)|^%/m;

/** The value of `text` and, if `positions`, where its keys are; null when `yaml` must read it. */
export function readCommonYaml(text: string, positions = false): CommonYaml | null {
  if (OUTSIDE.test(text) || MARKERS.test(text)) return null;
  try {
    return new Reader(text, positions).document();
  } catch (error) {
    if (error instanceof NotMine || error instanceof RangeError) return null; // RangeError: a stack overflow, in doubt
    throw error;
  }
}

// character codes
const SPACE = 0x20;
const NL = 0x0a;
const HASH = 0x23;
const DASH = 0x2d;
const COLON = 0x3a;
const COMMA = 0x2c;
const SQUOTE = 0x27;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_SEQ = 0x5b;
const CLOSE_SEQ = 0x5d;
const OPEN_MAP = 0x7b;
const CLOSE_MAP = 0x7d;

function isFlowIndicator(c: number): boolean {
  return c === COMMA || c === OPEN_SEQ || c === CLOSE_SEQ || c === OPEN_MAP || c === CLOSE_MAP;
}

/** Characters that cannot start a plain scalar: ,[]{}#&*!|>'"%@` (and - ? : before a space). */
function cannotStartPlain(c: number): boolean {
  return isFlowIndicator(c) || c === HASH || c === 0x26 || c === 0x2a || c === 0x21 || c === 0x7c || c === 0x3e
    || c === SQUOTE || c === DQUOTE || c === 0x25 || c === 0x40 || c === 0x60;
}

class Reader {
  readonly #text: string;
  readonly #positions: boolean;
  /** the current line: its start and end (the offset of its \n, or the text's length) */
  #start = 0;
  #end = 0;
  /** the line's number (1-based) and indent; -1 when the text is done */
  #number = 0;
  #indent = 0;
  /** the path to the node being read (for a duplicate key's report) */
  readonly #path: PathSegment[] = [];
  readonly #duplicates: Duplicate[] = [];
  /** whether the last key #key() read was a number (1: and "1": are one key to an object, two to yaml) */
  #numericKey = false;
  /** the last value read was empty (`k:` and nothing): yaml places a key written twice just after it oddly */
  #afterEmpty = false;

  constructor(text: string, positions: boolean) {
    this.#text = text;
    this.#positions = positions;
    this.#end = -1;
  }

  document(): CommonYaml {
    this.#nextContent();
    if (this.#indent < 0) throw NOT_MINE; // empty: null, as `yaml` says; not worth a second way
    const position = this.#position(this.#number);
    const value = this.#block(this.#start + this.#indent, -1, 0, position);
    if (this.#indent >= 0) throw NOT_MINE; // something after the root node
    return { value, positions: position, duplicates: this.#duplicates };
  }

  #position(line: number): Position | null {
    return this.#positions ? { line } : null;
  }

  /** Moves to the next line that holds more than spaces and a comment; #indent -1 at the end. */
  #nextContent(): void {
    const text = this.#text;
    for (;;) {
      if (this.#end >= text.length) {
        this.#indent = -1;
        return;
      }
      this.#start = this.#end + 1;
      this.#number++;
      let end = text.indexOf('\n', this.#start);
      if (end < 0) end = text.length;
      this.#end = end;
      let i = this.#start;
      while (i < end && text.charCodeAt(i) === SPACE) i++;
      if (i === end || text.charCodeAt(i) === HASH) continue;
      this.#indent = i - this.#start;
      return;
    }
  }

  /**
   * A block node whose first character is at `at` on the current line; its further lines (a map's
   * keys, a sequence's dashes) are at that column. `parent`: the indent of the node holding it.
   */
  #block(at: number, parent: number, depth: number, position: Position | null): unknown {
    if (depth > MAX_DEPTH) throw NOT_MINE;
    const text = this.#text;
    const column = at - this.#start;
    const c = text.charCodeAt(at);
    if (c === DASH && (at + 1 === this.#end || text.charCodeAt(at + 1) === SPACE)) return this.#sequence(column, depth, position);
    const colon = this.#keyEnd(at);
    if (colon >= 0) return this.#map(column, depth, position);
    // one value on its own: nothing more may belong to it (a plain scalar over several lines is `yaml`'s)
    const value = this.#inline(at, depth, position);
    this.#nextContent();
    if (this.#indent > parent) throw NOT_MINE;
    return value;
  }

  #sequence(column: number, depth: number, position: Position | null): unknown[] {
    const text = this.#text;
    const items: unknown[] = [];
    const seq: Position[] | undefined = position === null ? undefined : (position.seq = []);
    for (;;) {
      // at a dash at `column` of the current line
      this.#path.push(items.length);
      let i = this.#start + column + 1;
      while (i < this.#end && text.charCodeAt(i) === SPACE) i++;
      if (i === this.#end || text.charCodeAt(i) === HASH) {
        if (i < this.#end && i === this.#start + column + 1) throw NOT_MINE; // -# : not a comment
        const dashLine = this.#number;
        this.#nextContent();
        if (this.#indent > column) {
          const item = this.#position(this.#number);
          seq?.push(item!);
          items.push(this.#block(this.#start + this.#indent, column, depth + 1, item));
        } else {
          seq?.push({ line: dashLine });
          items.push(null);
          this.#afterEmpty = true;
        }
      } else {
        const item = this.#position(this.#number);
        seq?.push(item!);
        items.push(this.#block(i, column, depth + 1, item));
      }
      this.#path.pop();
      // the item consumed its lines: the next is another item at this column, or belongs to a parent
      if (this.#indent < column) return items;
      if (this.#indent > column) throw NOT_MINE;
      const at = this.#start + column;
      if (text.charCodeAt(at) !== DASH || (at + 1 < this.#end && text.charCodeAt(at + 1) !== SPACE)) return items;
    }
  }

  #map(column: number, depth: number, position: Position | null): Record<string, unknown> {
    const text = this.#text;
    const map: Record<string, unknown> = {};
    const keys: Map<string, Position> | undefined = position === null ? undefined : (position.map = new Map());
    let numeric: string[] | null = null;
    for (;;) {
      const at = this.#start + column;
      const colon = this.#keyEnd(at);
      if (colon < 0) throw NOT_MINE; // a line in a map that is not a key
      const key = this.#key(at, colon);
      if (key === '__proto__') throw NOT_MINE; // yaml's error, yaml's words
      if (Object.hasOwn(map, key)) this.#again(key, this.#numericKey || (numeric?.includes(key) ?? false), at);
      else if (this.#numericKey) (numeric ??= []).push(key);
      this.#afterEmpty = false;
      const entry = this.#position(this.#number);
      // lineOf() finds the first of keys written twice, as yaml's does
      if (entry !== null && !keys!.has(key)) keys!.set(key, entry);
      this.#path.push(key);
      let i = colon + 1;
      while (i < this.#end && text.charCodeAt(i) === SPACE) i++;
      if (i === this.#end || text.charCodeAt(i) === HASH) {
        // the value is on the lines below: more indented, or a sequence at the key's own column
        this.#nextContent();
        const at2 = this.#start + this.#indent;
        if (this.#indent > column || (this.#indent === column && text.charCodeAt(at2) === DASH && (at2 + 1 === this.#end || text.charCodeAt(at2 + 1) === SPACE))) {
          map[key] = this.#block(at2, column, depth + 1, entry);
        } else {
          map[key] = null;
          this.#afterEmpty = true;
        }
      } else {
        map[key] = this.#inline(i, depth + 1, entry);
        this.#nextContent();
      }
      this.#path.pop();
      if (this.#indent < column) return map;
      if (this.#indent > column) throw NOT_MINE;
    }
  }

  /**
   * A key written again in its map, at `at`: reported as yaml reports it. A number among the two
   * (1: and "1": one key to an object, two to yaml; 1: and 1.0: one to both) is left to yaml.
   */
  #again(key: string, numeric: boolean, at: number): void {
    // after an empty value yaml reports the place where that value ends, with the path '' (a quirk not worth copying)
    if (numeric || this.#afterEmpty) throw NOT_MINE;
    this.#duplicates.push({ path: [...this.#path, key], key, line: this.#number, column: at - this.#start + 1 });
  }

  /**
   * Where the implicit key starting at `at` ends: the offset of its `:` (followed by a space or the
   * line's end), or -1 when the line is not a key.
   */
  #keyEnd(at: number): number {
    const text = this.#text;
    const end = this.#end;
    const c = text.charCodeAt(at);
    let i: number;
    if (c === SQUOTE || c === DQUOTE) {
      i = this.#quotedEnd(at);
      while (i < end && text.charCodeAt(i) === SPACE) i++;
      if (i < end && text.charCodeAt(i) === COLON && (i + 1 === end || text.charCodeAt(i + 1) === SPACE)) return i;
      return -1;
    }
    if (c === OPEN_SEQ || c === OPEN_MAP) return -1; // a flow collection: a value (as a key, yaml's)
    this.#plainStart(at, end, false);
    for (i = at; i < end; i++) {
      const d = text.charCodeAt(i);
      if (d === COLON && (i + 1 === end || text.charCodeAt(i + 1) === SPACE)) return i;
      if (d === HASH && text.charCodeAt(i - 1) === SPACE) return -1;
    }
    return -1;
  }

  /** The key (as doc.toJS() names it) written from `at` to its colon. */
  #key(at: number, colon: number): string {
    if (colon - at > MAX_KEY) throw NOT_MINE;
    const text = this.#text;
    const c = text.charCodeAt(at);
    this.#numericKey = false;
    if (c === SQUOTE || c === DQUOTE) return c === SQUOTE ? this.#single(at) : this.#double(at);
    let last = colon;
    while (text.charCodeAt(last - 1) === SPACE) last--;
    const value = plainValue(text.slice(at, last));
    this.#numericKey = typeof value === 'number';
    return keyOf(value);
  }

  /** A value that ends on this line: a scalar or a flow collection, then only a comment. */
  #inline(at: number, depth: number, position: Position | null = null): unknown {
    this.#afterEmpty = false;
    const text = this.#text;
    const end = this.#end;
    const c = text.charCodeAt(at);
    let value: unknown;
    let i: number;
    if (c === OPEN_SEQ || c === OPEN_MAP) {
      [value, i] = this.#flow(at, depth, position);
    } else if (c === SQUOTE || c === DQUOTE) {
      i = this.#quotedEnd(at);
      value = c === SQUOTE ? this.#single(at) : this.#double(at);
    } else {
      this.#plainStart(at, end, false);
      for (i = at; i < end; i++) {
        const d = text.charCodeAt(i);
        if (d === HASH && text.charCodeAt(i - 1) === SPACE) break;
        if (d === COLON && (i + 1 === end || text.charCodeAt(i + 1) === SPACE)) throw NOT_MINE; // a: b: c
      }
      let last = i;
      while (text.charCodeAt(last - 1) === SPACE) last--;
      return plainValue(text.slice(at, last));
    }
    this.#restIsComment(i);
    return value;
  }

  #restIsComment(i: number): void {
    const text = this.#text;
    const end = this.#end;
    if (i === end) return;
    if (text.charCodeAt(i) !== SPACE) throw NOT_MINE;
    while (i < end && text.charCodeAt(i) === SPACE) i++;
    if (i < end && text.charCodeAt(i) !== HASH) throw NOT_MINE;
  }

  /** A plain scalar cannot start with an indicator; - ? : can, before a character that is not a space. */
  #plainStart(at: number, end: number, flow: boolean): void {
    const text = this.#text;
    const c = text.charCodeAt(at);
    if (cannotStartPlain(c)) throw NOT_MINE;
    if (c === DASH || c === 0x3f || c === COLON) {
      if (at + 1 >= end) throw NOT_MINE;
      const d = text.charCodeAt(at + 1);
      if (d === SPACE || (flow && isFlowIndicator(d))) throw NOT_MINE;
    }
  }

  /** The offset just past the quoted scalar starting at `at`, which must close on this line. */
  #quotedEnd(at: number): number {
    const text = this.#text;
    const end = this.#end;
    if (text.charCodeAt(at) === SQUOTE) {
      let i = at + 1;
      for (;;) {
        const q = text.indexOf("'", i);
        if (q < 0 || q >= end) throw NOT_MINE; // over several lines: yaml's
        if (text.charCodeAt(q + 1) !== SQUOTE) return q + 1;
        i = q + 2; // '' is one quote
      }
    }
    for (let i = at + 1; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === BACKSLASH) i++;
      else if (c === DQUOTE) return i + 1;
    }
    throw NOT_MINE;
  }

  #single(at: number): string {
    const text = this.#text;
    const close = this.#quotedEnd(at) - 1;
    const body = text.slice(at + 1, close);
    // linear: one replace, not a scan that rescans
    return body.includes("''") ? body.replaceAll("''", "'") : body;
  }

  #double(at: number): string {
    const text = this.#text;
    const close = this.#quotedEnd(at) - 1;
    const body = text.slice(at + 1, close);
    if (!body.includes('\\')) return body;
    let out = '';
    let from = 0;
    for (let i = body.indexOf('\\'); i >= 0; i = body.indexOf('\\', from)) {
      out += body.slice(from, i);
      const e = body.charCodeAt(i + 1);
      let hex = 0;
      if (e === 0x6e) out += '\n';
      else if (e === 0x74) out += '\t';
      else if (e === DQUOTE) out += '"';
      else if (e === BACKSLASH) out += '\\';
      else if (e === 0x2f) out += '/';
      else if (e === 0x72) out += '\r';
      else if (e === 0x78) hex = 2;
      else if (e === 0x75) hex = 4;
      else throw NOT_MINE; // the rarer escapes are yaml's
      from = i + 2;
      if (hex > 0) {
        const digits = body.slice(i + 2, i + 2 + hex);
        if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== hex) throw NOT_MINE;
        const code = parseInt(digits, 16);
        if (code >= 0xd800 && code <= 0xdfff) throw NOT_MINE; // half of a pair
        out += String.fromCharCode(code);
        from += hex;
      }
    }
    return out + body.slice(from);
  }

  /** A flow collection that closes on this line: its value and the offset just past it. */
  #flow(at: number, depth: number, position: Position | null): [unknown, number] {
    if (depth > MAX_DEPTH) throw NOT_MINE;
    const text = this.#text;
    const end = this.#end;
    const isMap = text.charCodeAt(at) === OPEN_MAP;
    const close = isMap ? CLOSE_MAP : CLOSE_SEQ;
    const items: unknown[] = [];
    const map: Record<string, unknown> = {};
    const line = this.#number;
    let keys: Map<string, Position> | undefined;
    let seq: Position[] | undefined;
    if (position !== null) {
      if (isMap) keys = position.map = new Map();
      else seq = position.seq = [];
    }
    let i = this.#skipSpaces(at + 1);
    if (text.charCodeAt(i) === close) return [isMap ? map : items, i + 1];
    let numeric: string[] | null = null;
    for (;;) {
      const child = position === null ? null : { line };
      if (isMap) {
        const keyAt = i;
        let scalar: unknown;
        [scalar, i] = this.#flowScalar(i);
        const key = keyOf(scalar);
        if (key.length > MAX_KEY || key === '__proto__') throw NOT_MINE;
        const isNumber = typeof scalar === 'number';
        if (Object.hasOwn(map, key)) this.#again(key, isNumber || (numeric?.includes(key) ?? false), keyAt);
        else if (isNumber) (numeric ??= []).push(key);
        this.#afterEmpty = false;
        i = this.#skipSpaces(i);
        if (text.charCodeAt(i) !== COLON || text.charCodeAt(i + 1) !== SPACE) throw NOT_MINE; // { a }, { a:b }, {"a":b}: yaml's
        i = this.#skipSpaces(i + 1);
        if (keys !== undefined && !keys.has(key)) keys.set(key, child!);
        this.#path.push(key);
        [map[key], i] = this.#flowValue(i, depth, child);
      } else {
        seq?.push(child!);
        this.#path.push(items.length);
        let value: unknown;
        [value, i] = this.#flowValue(i, depth, child);
        items.push(value);
        if (text.charCodeAt(i) === COLON) throw NOT_MINE; // [ a: b ]: a map in a sequence, yaml's
      }
      this.#path.pop();
      const c = text.charCodeAt(i);
      if (i >= end) throw NOT_MINE;
      if (c === close) return [isMap ? map : items, i + 1];
      if (c !== COMMA) throw NOT_MINE;
      i = this.#skipSpaces(i + 1);
      if (text.charCodeAt(i) === close && i < end) return [isMap ? map : items, i + 1];
    }
  }

  /** A value inside a flow collection, and the offset past it and the spaces after it. */
  #flowValue(i: number, depth: number, position: Position | null): [unknown, number] {
    const text = this.#text;
    if (i >= this.#end) throw NOT_MINE;
    const c = text.charCodeAt(i);
    let value: unknown;
    if (c === OPEN_SEQ || c === OPEN_MAP) {
      [value, i] = this.#flow(i, depth + 1, position);
    } else {
      [value, i] = this.#flowScalar(i);
    }
    return [value, this.#skipSpaces(i)];
  }

  /** A quoted or plain scalar in a flow collection, and the offset just past it. */
  #flowScalar(i: number): [unknown, number] {
    const c = this.#text.charCodeAt(i);
    if (c === SQUOTE || c === DQUOTE) return [c === SQUOTE ? this.#single(i) : this.#double(i), this.#quotedEnd(i)];
    const end = this.#flowPlainEnd(i);
    return [plainValue(this.#text.slice(i, spacesBefore(this.#text, end))), end];
  }

  /** The end of a plain scalar in a flow collection: a flow indicator, `: `, or a comment (yaml's). */
  #flowPlainEnd(at: number): number {
    const text = this.#text;
    const end = this.#end;
    this.#plainStart(at, end, true);
    let i = at;
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      if (isFlowIndicator(c)) break;
      if (c === COLON) {
        const d = i + 1 < end ? text.charCodeAt(i + 1) : SPACE;
        if (d === SPACE || isFlowIndicator(d)) break;
      }
      if (c === HASH && text.charCodeAt(i - 1) === SPACE) throw NOT_MINE; // a comment: the rest is on other lines
    }
    if (i === end) throw NOT_MINE;
    return i;
  }

  #skipSpaces(i: number): number {
    const text = this.#text;
    while (i < this.#end && text.charCodeAt(i) === SPACE) i++;
    return i;
  }
}

/** A plain key's name in the object doc.toJS() makes: a string, or a number's text. */
function keyOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  // other keys (null, booleans) are named by yaml's own rules: not worth copying
  throw NOT_MINE;
}

/** Where the spaces (only U+0020: yaml keeps the others) that end at `i` begin. */
function spacesBefore(text: string, i: number): number {
  while (text.charCodeAt(i - 1) === SPACE) i--;
  return i;
}

const INT = /^[-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
/** core schema forms left to yaml: octal, hexadecimal, infinities and NaN */
const OTHER_NUMBER = /^(?:0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;

/** A plain scalar's value under YAML 1.2's core schema, as `yaml` resolves it. */
function plainValue(text: string): unknown {
  const c = text.charCodeAt(0);
  // most scalars are words: no test below can match one starting with a letter other than n, t, f, N, T, F
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) {
    if (c !== 0x6e && c !== 0x74 && c !== 0x66 && c !== 0x4e && c !== 0x54 && c !== 0x46) return text;
  }
  switch (text) {
    case '':
    case '~':
    case 'null':
    case 'Null':
    case 'NULL':
      return null;
    case 'true':
    case 'True':
    case 'TRUE':
      return true;
    case 'false':
    case 'False':
    case 'FALSE':
      return false;
  }
  if (INT.test(text)) return parseInt(text, 10);
  if (FLOAT.test(text) || FLOAT_EXP.test(text)) return parseFloat(text);
  if (OTHER_NUMBER.test(text)) throw NOT_MINE;
  return text;
}
