// The fast reader of common YAML (config/yaml-common.ts) against the yaml library: on every
// document it reads, the same value and the same line for every path an error could name; on
// every document yaml refuses (or warns about), it steps aside. Random documents made of YAML's
// tokens and the config's words, mutations of the examples, and hostile texts.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { PathSegment } from '../../src/config/issues.ts';
import { readSource, readWithYaml } from '../../src/config/source.ts';
import { readCommonYaml } from '../../src/config/yaml-common.ts';
import { Fuzzer, fuzzCount } from '../helpers/fuzz.ts';

/** Keys, in every form a key takes (and, after ODD_KEYS, some it cannot). */
const ODD_KEYS = 22;
const KEYS = [
  'a', 'b', 'c', 'listen', 'pool', 'members', 'address', 'x y', 'a:b', 'a#b', '-a', '1', '-1', '1.5', '"q k"', "'s k'", '"a\\"b"', "'it''s'", '"\\u0041"', 'é', '日本', 'constructor',
  'a', 'b', 'c', 'listen', 'pool', 'members', 'address', 'x y', 'a:b', 'a#b', 'a #b', '-a', ':a', '?a', '1', '-1', '01', '1.5', '1e3', '-0', '0x1F', '0o17',
  'true', 'null', '~', '', '__proto__', 'constructor', '<<', '? a', '- a', '"q k"', "'s k'", '"a\\"b"', "'it''s'", '"\\u0041"', '"__proto__"', '"\\x5f_proto__"',
  '"a" ', '"a"b', 'é', '日本', '[a]', '{a: 1}', '&x a', '!t a', '*x', 'k'.repeat(1030), 'a\u00a0',
];
/** Values, scalar and flow, valid and (after ODD_VALUES) not always. */
const ODD_VALUES = 24;
const VALUES = [
  'x', 'x y', '1', '-1', '1.5', '1e3', 'true', 'null', '~', '"a b"', "'a''b'", '[a, b]', '[]', '{}', '{ a: 1, b: [x, y] }', '[a, [b, {c: d}]]', '127.0.0.1:80',
  '{ address: 127.0.0.1:8080, id: m0, weight: 1 }', 'http://x/y#z', 'a #c', '500ms', '"${VAR}"', 'é', '-x',
  'x', 'x y', '1', '-1', '+1', '01', '1.5', '1.', '.5', '1e3', '-1E-3', '99999999999999999999', '0x1F', '0o17', '0x', '.inf', '-.Inf', '.nan', 'true', 'True', 'TRUE', 'tRue',
  'yes', 'null', 'Null', '~', 'nul', 'f', 'n', 'T', '"a b"', '"a\\"b"', '"\\x41\\u00e9\\n\\t\\/\\\\\\r"', '"\\e\\N"', '"\\ud800"', '"\\x4"', '"a', "'a''b'", "'a", "''", '""',
  "'#'", '"#"', '[a, b]', '[ ]', '[]', '{}', '{ }', '{ a: 1, b: [x, y] }', '{a: 1,}', '[a, ]', '[a,,b]', '[,]', '{ a }', '{a:b}', '{"a":1}', '{"a": 1}', "{'a': x}",
  '[a: b]', '[a, [b, {c: d}]]', '{ a: [b', 'x]', 'a]', '[a] b', '[a] # c', '{a: {b: {c: [d]}}}', '{a: b: c}', '{a: 1, a: 2}', '{ __proto__: 1 }', '[-]', '[- a]', '[-a]',
  '127.0.0.1:80', '[::1]:80', '{ address: 127.0.0.1:8080, id: m0, weight: 1 }', 'http://x/y#z', 'a #c', 'a#c', 'a  ', '- x', '-x', '-', ':', '?', ': x', '? x', 'a: b', 'a:',
  '&a x', '*a', '!!str x', '!t', '|', '|-', '>-', '@x', '`x', '%x', ',x', 'x,y', '\u00a0x\u00a0', 'é', '${VAR}', '"${VAR}"', '500ms', '2s', ' ', '#', ' #',
];
const COMMENTS = ['', '', '', ' # c', '# c', ' #', '  # a: b'];

const bytes = (items: readonly string[]): Buffer[] => items.map((t) => Buffer.from(t));
const KEY_BYTES = bytes(KEYS);
const VALUE_BYTES = bytes(VALUES);
const COMMENT_BYTES = bytes(COMMENTS);
/** the rest of YAML's syntax and some bytes that are not text, spliced in whole */
const DICTIONARY = bytes([
  ': ', '- ', '\n', '\n  ', '\n- ', '{ ', ' }', '[ ', ' ]', ', ', '&a ', '*a', '<<: *a', '!!str ', '? ', '|\n', '>-\n', '---\n', '...\n', '%YAML 1.2\n', '#', '"', "'",
  '\\', '\t', '\r\n', '\r', '\ufeff', '\u2028', '\u0085', '\u0000', ...KEYS.slice(0, 30), ...VALUES.slice(0, 60),
]).concat([Buffer.from([0xc3]), Buffer.from([0xe6, 0x97]), Buffer.from([0xff])]);

/** A token: mostly one of the first `common` (good YAML), sometimes any. */
function token(f: Fuzzer, tokens: readonly Buffer[], common: number): Buffer {
  return tokens[f.int(5) === 0 ? f.int(tokens.length) : f.int(common)];
}

/** A document of lines: indents (mostly those of the lines above, or 2 more), dashes, keys, values, comments. */
function document(f: Fuzzer): Buffer {
  const parts: Buffer[] = [];
  const lines = 1 + f.int(8);
  let indents = [0];
  for (let l = 0; l < lines; l++) {
    const odd = f.int(8) === 0;
    const indent = odd ? f.int(7) : f.int(3) === 0 ? indents[indents.length - 1] + 2 : f.pick(indents);
    indents = [...indents.filter((i) => i < indent), indent];
    parts.push(Buffer.from(' '.repeat(indent)));
    for (let d = f.int(4) === 0 ? 1 + f.int(2) : 0; d > 0; d--) parts.push(Buffer.from(f.int(8) === 0 ? '-' : '- '));
    const shape = f.int(10);
    if (shape < 5) parts.push(token(f, KEY_BYTES, ODD_KEYS), Buffer.from(f.int(10) === 0 ? ':' : ': '), token(f, VALUE_BYTES, ODD_VALUES));
    else if (shape < 7) parts.push(token(f, KEY_BYTES, ODD_KEYS), Buffer.from(':'));
    else if (shape < 9) parts.push(token(f, VALUE_BYTES, ODD_VALUES));
    if (f.int(20) === 0) parts.push(f.pick(DICTIONARY));
    parts.push(f.pick(COMMENT_BYTES), Buffer.from('\n'));
  }
  if (f.int(10) === 0) parts.pop(); // no newline at the end
  return Buffer.concat(parts);
}

/** Every path into `value` (up to a bound), and beside each a path that is not there. */
function paths(value: unknown, prefix: PathSegment[] = [], out: PathSegment[][] = []): PathSegment[][] {
  out.push(prefix);
  if (out.length > 2000 || value === null || typeof value !== 'object') return out;
  out.push([...prefix, Array.isArray(value) ? value.length : 'absent']);
  const entries: [PathSegment, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [segment, child] of entries) paths(child, [...prefix, segment], out);
  return out;
}

/** 'common' when the fast reader read it (and agreed), 'yaml' when it left it to the library. */
function compare(text: string): 'common' | 'yaml' {
  const common = readCommonYaml(text);
  if (common === null) return 'yaml';
  const reference = readWithYaml(text, 'f.yaml');
  assert.ok(reference.ok, `read a text yaml refuses: ${JSON.stringify(text)}: ${JSON.stringify(reference.ok ? null : reference.issues)}`);
  assert.deepStrictEqual(common.value, reference.source.value, `value of ${JSON.stringify(text)}`);
  const fast = readSource(text, 'f.yaml');
  assert.ok(fast.ok);
  // keys written twice: the same problems, in the same words, at the same places
  assert.deepEqual(fast.duplicates, reference.duplicates, `keys twice in ${JSON.stringify(text)}`);
  for (const path of paths(reference.source.value)) {
    assert.equal(fast.source.lineOf(path), reference.source.lineOf(path), `line of ${JSON.stringify(path)} in ${JSON.stringify(text)}`);
  }
  return 'common';
}

function tally(texts: Iterable<string>): { common: number; yaml: number } {
  const counts = { common: 0, yaml: 0 };
  for (const text of texts) counts[compare(text)]++;
  return counts;
}

describe('the common YAML reader', () => {
  it('agrees with yaml on random documents of tokens, and reads a good share of them itself', () => {
    const f = new Fuzzer(17);
    const cases = fuzzCount(30_000);
    const counts = tally((function* () {
      for (let i = 0; i < cases; i++) yield document(f).toString('utf8');
    })());
    // a reader that gave up on everything would agree too: it must read a part itself
    assert.ok(counts.common > cases * 0.1, JSON.stringify(counts));
    assert.ok(counts.yaml > cases * 0.1, JSON.stringify(counts));
  });

  it('agrees with yaml on mutations of the examples, and reads each example itself', () => {
    const root = fileURLToPath(new URL('../../examples/', import.meta.url));
    const seeds = readdirSync(root).filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => readFileSync(root + n));
    const read = seeds.filter((seed) => compare(seed.toString('utf8')) === 'common').length;
    assert.equal(read, seeds.length);
    const f = new Fuzzer(1017);
    const cases = fuzzCount(3_000);
    const counts = tally((function* () {
      for (let i = 0; i < cases; i++) yield f.mutate(f.pick(seeds), DICTIONARY).toString('utf8');
    })());
    assert.ok(counts.common > cases * 0.1, JSON.stringify(counts));
  });

  it('reads a large generated config (flow maps in flow lists) as yaml does', () => {
    const lines = ['global: { workers: auto }', 'services:'];
    for (let i = 0; i < 200; i++) lines.push(`  s${i}: { listen: 127.0.0.1:${20000 + i}, mode: tcp, pool: p${i} } # ${i}`);
    lines.push('pools:');
    for (let i = 0; i < 200; i++) {
      const members = Array.from({ length: 10 }, (_, j) => `{ address: 10.0.${i}.${j}:8080, id: m${j}, weight: ${1 + (j % 3)} }`);
      lines.push(`  p${i}:`, '    algorithm: weighted-least-connections', `    members: [ ${members.join(', ')} ]`);
    }
    assert.equal(compare(lines.join('\n')), 'common');
  });

  it('steps aside for hostile texts, whose answer is yaml\'s', () => {
    const hostile = [
      // deep nesting, block and flow: past 100 levels it is yaml's (which refuses or bounds it)
      Array.from({ length: 150 }, (_, i) => `${' '.repeat(i)}k:`).join('\n'),
      Array.from({ length: 150 }, (_, i) => `${' '.repeat(2 * i)}- `).join('\n'),
      `k: ${'['.repeat(5000)}${']'.repeat(5000)}`,
      `k: ${'{a: '.repeat(5000)}1${'}'.repeat(5000)}`,
      // a key longer than yaml takes
      `${'k'.repeat(1025)}: v`,
      `"${'k'.repeat(1025)}": v`,
      // keys twice where a number is one of them: "1" and 1 are one key to an object, two to yaml
      '1: a\n"1": b',
      '{ 1: a, 1.0: b }',
      // __proto__, plain and escaped
      '__proto__: 1',
      '"\\x5f_proto__": 1',
    ];
    for (const text of hostile) assert.equal(compare(text), 'yaml', JSON.stringify(text.slice(0, 60)));
    // at the limits, still the common reader's, and the same
    assert.equal(compare(Array.from({ length: 90 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')), 'common');
    assert.equal(compare(`${'k'.repeat(1000)}: v`), 'common');
  });

  it('reads long quoted strings, and many keys, in one pass', () => {
    // single quotes doubled all along: linear (a scan that restarted at each '' would be quadratic)
    const quotes = `k: '${"''".repeat(200_000)}'\n`;
    assert.equal((readCommonYaml(quotes)!.value as { k: string }).k.length, 200_000);
    assert.equal(compare(`k: '${"a''".repeat(2_000)}'`), 'common');
    assert.equal(compare(`k: "${'\\"'.repeat(2_000)}"`), 'common');
    const many = Array.from({ length: 20_000 }, (_, i) => `k${i}: ${i}`).join('\n');
    const value = readCommonYaml(many)!.value as Record<string, number>;
    assert.equal(Object.keys(value).length, 20_000);
    assert.equal(value.k19999, 19999);
    // keys written twice among many: each found at once (yaml's check compares every pair of a map's keys)
    const twice = readCommonYaml(`${many}\nk5: 5\nk7: 7`)!;
    assert.deepEqual(twice.duplicates.map((d) => [d.path, d.line, d.column]), [[['k5'], 20_001, 1], [['k7'], 20_002, 1]]);
    assert.equal((twice.value as Record<string, number>).k5, 5);
  });

  it('reports keys written twice as yaml does, the later value kept', () => {
    for (const text of ['a: 1\nb: 2\na: 3', '{ a: 1, a: 2 }', 'a: 1\n"a": 2', 's:\n  - { x: 1, y: 2, x: 3 }\n  - k: 1\n    k: 2\n', 'p:\n  q: 1\np:\n  r: 2\n']) {
      assert.equal(compare(text), 'common', text);
      assert.ok(readCommonYaml(text)!.duplicates.length > 0, text);
    }
  });
});
