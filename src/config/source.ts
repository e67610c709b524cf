// Reading the text of a config file into a plain value, keeping a way back from a path in that
// value to its line, so that every later error can name the line it is about.
// YAML is the format; JSON is accepted as the subset of YAML it is, but a `.json` file gets
// JSON's own syntax errors, which are what a person editing JSON expects to read.

import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { formatPath, type ConfigIssue, type PathSegment } from './issues.ts';
import { readCommonYaml, type Position } from './yaml-common.ts';

export interface Source {
  /** the document as plain data: maps, lists, strings, numbers, booleans, null */
  value: unknown;
  /** the line of the key (or list item) at `path`, or of its nearest ancestor when it is absent */
  lineOf(path: readonly PathSegment[]): number | undefined;
}

/** `duplicates`: keys written twice in one map, each an issue of its own; the value keeps the later one, so the rest can still be checked. */
export type SourceResult = { ok: true; source: Source; duplicates: ConfigIssue[] } | { ok: false; issues: ConfigIssue[] };

export function readSource(text: string, file: string): SourceResult {
  if (/\.json$/i.test(file)) return readJson(text, file);
  return readYaml(text, file);
}

function readYaml(text: string, file: string): SourceResult {
  // the common case, fast; anything else (and every error) is the yaml library's
  const common = readCommonYaml(text);
  if (common === null) return readWithYaml(text, file);
  let positions: Position | null = null;
  // the lines are wanted only when something is wrong: read them then (the same reader, recording)
  const lineOf = (path: readonly PathSegment[]): number | undefined => positionLine((positions ??= readCommonYaml(text, true)!.positions!), path);
  // in the words readWithYaml uses
  const duplicates = common.duplicates.map(({ path, key, line, column }): ConfigIssue => (
    { file, path: formatPath(path), message: duplicateKey(key), line, column }
  ));
  return { ok: true, source: { value: common.value, lineOf }, duplicates };
}

/** The text as the yaml library reads it: every form of YAML, and its words for every error. */
export function readWithYaml(text: string, file: string): SourceResult {
  const lines = new LineCounter();
  // logLevel error: yaml's warnings (a map used as a key) would go to stderr as process
  // warnings; such a key is stringified and then refused by the schema as an unknown key
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, logLevel: 'error' });
  // After the first real syntax error the parser is lost and the rest is noise; duplicate keys
  // are independent mistakes, so each of them is reported, and beside the document's other problems.
  const firstSyntax = doc.errors.find((error) => error.code !== 'DUPLICATE_KEY');
  const shown = doc.errors.filter((error) => error.code === 'DUPLICATE_KEY' || error === firstSyntax);
  const issues = shown.map((error): ConfigIssue => {
    const { line, col } = lines.linePos(error.pos[0]);
    if (error.code !== 'DUPLICATE_KEY') return { file, path: '', message: error.message + hint(text, line), line, column: col };
    const at = keyAt(doc, error.pos[0]);
    const key = at === null ? text.slice(error.pos[0], error.pos[1]) : String(at[at.length - 1]);
    return { file, path: at === null ? '' : formatPath(at), message: duplicateKey(key), line, column: col };
  });
  if (firstSyntax !== undefined) return { ok: false, issues };
  // a key can only be __proto__ if the text says so, or spells it with escapes ("\x5f_proto__")
  const reserved = text.includes('__proto__') || text.includes('\\') ? reservedKeys(doc, lines, file) : [];
  if (reserved.length > 0) return { ok: false, issues: [...issues, ...reserved] };
  let value: unknown;
  try {
    // each alias counts as the nodes it copies: a few lines of anchors cannot expand into millions
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const message = /alias count/i.test((error as Error).message)
      ? `the aliases (*name) expand to too much: more than ${MAX_ALIAS_COUNT} copied nodes; write the values out or use fewer levels of aliases`
      : `cannot read the document: ${(error as Error).message}`;
    return { ok: false, issues: [{ file, path: '', message }] };
  }
  return { ok: true, source: { value, lineOf: (path) => lineOf(doc, lines, path) }, duplicates: issues };
}

function duplicateKey(key: string): string {
  return `duplicate key ${JSON.stringify(key)}; each key may appear once in a map`;
}

/** The path of the map key that starts at `offset`, or null when none does. */
function keyAt(doc: Document, offset: number): PathSegment[] | null {
  let found: PathSegment[] | null = null;
  visit(doc, {
    Pair(_key, pair, ancestors) {
      if (!isScalar(pair.key) || pair.key.range?.[0] !== offset) return undefined;
      const path: PathSegment[] = [];
      for (const [i, node] of ancestors.entries()) {
        if (isPair(node) && isScalar(node.key)) path.push(String(node.key.value));
        else if (isSeq(node)) path.push(node.items.indexOf(ancestors[i + 1] as never));
      }
      found = [...path, String(pair.key.value)];
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * Keys a JavaScript object cannot hold as its own (`__proto__` sets the prototype): such a key
 * (a service, pool, header or page named so) would vanish from the value without a word.
 */
function reservedKeys(doc: Document, lines: LineCounter, file: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  visit(doc, {
    Pair(_key, pair) {
      if (!isScalar(pair.key) || String(pair.key.value) !== '__proto__') return;
      const offset = pair.key.range?.[0] ?? 0;
      const { line, col } = lines.linePos(offset);
      const at = keyAt(doc, offset);
      out.push({ file, path: at === null ? '' : formatPath(at), message: '"__proto__" cannot be a key: choose another name', line, column: col });
    },
  });
  return out;
}

/** yaml's own default, said here because it is what stops an alias bomb (billion laughs). */
const MAX_ALIAS_COUNT = 100;

/** The one syntax slip this format invites: `${VAR}` unquoted inside `{ }` or `[ ]`. */
function hint(text: string, line: number): string {
  const source = text.split('\n')[line - 1] ?? '';
  return /[{[][^'"]*\$\{/.test(source) ? ' (inside { } or [ ], quote a value that holds ${VAR}: "${VAR}")' : '';
}

function readJson(text: string, file: string): SourceResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, issues: [jsonSyntaxIssue(text, file, (error as Error).message)] };
  }
  // The same text read as YAML gives the line numbers, and also refuses duplicate keys, which
  // JSON.parse would silently resolve to the last one, and __proto__ keys.
  const asYaml = readYaml(text, file);
  if (asYaml.ok) return asYaml;
  const duplicates = asYaml.issues.filter((issue) => issue.message.startsWith('duplicate key') || issue.message.startsWith('"__proto__"'));
  if (duplicates.length > 0) return { ok: false, issues: duplicates };
  return { ok: true, source: { value, lineOf: () => undefined }, duplicates: [] };
}

function jsonSyntaxIssue(text: string, file: string, message: string): ConfigIssue {
  // V8 words it "... in JSON at position 12 (line 3 column 2)"; keep the first part and
  // put the position where every other issue keeps it.
  const at = /^(.*?) in JSON at position (\d+)/.exec(message);
  if (at !== null) return { file, path: '', message: `invalid JSON: ${at[1]}`, ...position(text, Number(at[2])) };
  if (/end of JSON input/.test(message)) {
    return { file, path: '', message: 'invalid JSON: the file ends before the value does', ...position(text, text.length) };
  }
  // "Unexpected token 'x', "<text>" is not valid JSON": the quoted text is noise here.
  return { file, path: '', message: `invalid JSON: ${message.replace(/, ".*" is not valid JSON$/s, '')}` };
}

function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function lineOf(doc: Document, lines: LineCounter, path: readonly PathSegment[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = (node as Node | null)?.range?.[0];
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair === undefined) break;
      // Point at the key: for `pool: web` and for a nested map alike, that is the line a person looks for.
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      node = node.items[segment];
      offset = (node as Node).range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

/** lineOf() over the positions the common reader recorded: the same walk as over yaml's nodes. */
function positionLine(root: Position, path: readonly PathSegment[]): number {
  let node = root;
  for (const segment of path) {
    const next = node.map !== undefined ? node.map.get(String(segment))
      : node.seq !== undefined && typeof segment === 'number' ? node.seq[segment] : undefined;
    if (next === undefined) break;
    node = next;
  }
  return node.line;
}
