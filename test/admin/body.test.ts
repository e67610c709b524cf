// The admin API's request bodies (src/admin/request-body.ts): strict JSON, told apart from what
// JSON.parse would quietly accept (a key given twice, 1e400, bytes that are not UTF-8, deep
// nesting); then fuzzed, in process: whatever the bytes, the body parser and the PATCH schema
// give a value or a 400, never another error, and what they accept is what JSON.parse reads.
// A sample of the fuzzed bodies is also sent to a running admin API: never a 500.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/admin/http.ts';
import { decodeBody, MAX_DEPTH, parseJsonBody } from '../../src/admin/request-body.ts';
import { validate } from '../../src/admin/router.ts';
import { memberPatchSchema } from '../../src/admin/schemas.ts';
import { pool, single } from '../helpers/config.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../helpers/fuzz.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { startAdminApp, TOKEN } from './helpers.ts';

const parse = (text: string | Buffer) => parseJsonBody(typeof text === 'string' ? Buffer.from(text) : text);

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ApiError, `not an ApiError: ${String(err)}`);
    return err;
  }
  assert.fail('accepted');
}

/** Bodies the PATCH route takes, and bodies close to them: where mutations start. */
const SEEDS = [
  '{"state":"drain"}', '{"weight":3}', '{"maxConnections":100}', '{"state":"enabled","weight":0,"maxConnections":0}',
  '{ "state" : "disabled" , "weight" : 256 }', '[1,2,{"a":[true,false,null]}]', '{"weight":1.0e0}', '"\\u00e9\\ud83d\\ude00"', '-0.5E-3',
];
const DICTIONARY = ['{', '}', '[', ']', ':', ',', '"', '\\', '\\u', '\\ud800', 'true', 'false', 'null', '-', '0', '1e400', '1e-400',
  '9007199254740993', '.5', 'E+', '"state"', '"weight"', '"maxConnections"', '"__proto__"', '"drain"', ' ', '\t', '\r\n', '\xef\xbb\xbf', '\xc3', '\xff',
  '[[[[[[[[[[[[[[[[[[', ']]]]]]]]]]]]]]]]]]', '{"a":{"a":{"a":'];

function generate(f: Fuzzer): Buffer {
  switch (f.int(5)) {
    case 0:
      return f.bytes(f.int(24));
    case 1:
      return Buffer.from(random(f, 0));
    default:
      return f.mutate(Buffer.from(f.pick(SEEDS), 'latin1'), DICTIONARY);
  }
}

/** A random JSON text (sometimes a little wrong), nested up to past the bound. */
function random(f: Fuzzer, depth: number): string {
  const kind = f.int(depth > MAX_DEPTH + 2 ? 4 : 7);
  switch (kind) {
    case 0: return f.pick(['true', 'false', 'null', 'nul']);
    case 1: return f.pick(['0', '-1', '3', '256', '1.5', '1e3', '1e400', '-0', '01', '1.', '2e']);
    case 2: return JSON.stringify(f.pick(['state', 'drain', 'é', '\u0000', '\ud800', 'a"b']));
    case 3: return f.pick(['"\\x"', '"\t"', '"\\u12"']);
    case 4: case 5: {
      const keys = Array.from({ length: f.int(4) }, () => JSON.stringify(f.pick(['state', 'weight', 'maxConnections', '__proto__', 'x'])));
      return `{${keys.map((k) => `${k}:${random(f, depth + 1)}`).join(',')}}`;
    }
    default:
      return `[${Array.from({ length: f.int(3) }, () => random(f, depth + 1)).join(',')}]`;
  }
}

/** Why a body JSON.parse takes may still be refused here. */
const STRICTER = /appears twice|nests deeper than|is too large|not UTF-8|unexpected "\ufeff"/;

describe('admin API: request bodies', () => {
  it('reads strict JSON: values as JSON.parse reads them, __proto__ as a plain key', () => {
    for (const text of SEEDS) assert.deepEqual(parse(text), JSON.parse(text), text);
    const odd = parse('{"__proto__":{"weight":1}}') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(odd), Object.prototype);
    assert.deepEqual(Object.keys(odd), ['__proto__']);
    assert.equal(refusal(() => validate(memberPatchSchema, odd, 'body')).message, 'invalid body: unknown key "__proto__"; expected at least one of state, weight, maxConnections');
  });

  it('refuses, with a 400 saying where, what JSON.parse would take quietly', () => {
    const cases: [string | Buffer, string][] = [
      ['{"state":"enabled","state":"disabled"}', 'the body is not valid JSON: the key "state" appears twice (at character 20)'],
      ['{"weight":1e400}', 'the body is not valid JSON: the number at character 11 is too large'],
      ['['.repeat(MAX_DEPTH + 1) + ']'.repeat(MAX_DEPTH + 1), `the body is not valid JSON: it nests deeper than ${MAX_DEPTH} levels`],
      [Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'the body is not valid JSON: it is not UTF-8 text'],
      ['\ufeff{"weight":1}', 'the body is not valid JSON: unexpected "\ufeff" at character 1'],
      ['{"state":"drain"} x', 'the body is not valid JSON: unexpected "x" at character 19'],
      ['{"state":"drain",}', 'the body is not valid JSON: unexpected "}" at character 18'],
      ['{"state":"dr\nain"}', 'the body is not valid JSON: a control character in a string at character 13'],
      ['{"state":"\\q"}', 'the body is not valid JSON: a bad escape in the string at character 10'],
      ['{"weight":01}', 'the body is not valid JSON: unexpected "1" at character 12'],
      ['{"weight":', 'the body is not valid JSON: it ends too soon'],
    ];
    for (const [text, message] of cases) {
      const err = refusal(() => parse(text));
      assert.deepEqual([err.status, err.message], [400, message], String(text));
    }
    assert.equal(parse('['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH)) instanceof Array, true);
    assert.equal(refusal(() => decodeBody(Buffer.from('{}'), 'text/plain')).status, 415);
    assert.equal(decodeBody(Buffer.alloc(0), undefined), undefined);
  });

  it(`fuzz: ${fuzzCount(20_000)} bodies give a value or a 400, and what is accepted is what JSON.parse reads`, () => {
    const counts = { accepted: 0, patches: 0, refused: 0 };
    fuzz(0xad31, fuzzCount(20_000), generate, (input) => {
      let value: unknown;
      try {
        value = decodeBody(input, 'application/json');
      } catch (err) {
        assert.ok(err instanceof ApiError && err.status === 400, `threw ${String(err)}`);
        counts.refused++;
        let native: unknown;
        try {
          native = JSON.parse(input.toString('utf8'));
        } catch {
          return;
        }
        // JSON.parse took it: we may refuse only for one of our stricter reasons
        assert.match(err.message, STRICTER, `refused what JSON.parse reads as ${JSON.stringify(native)}`);
        return;
      }
      if (input.length === 0) return assert.equal(value, undefined); // no body
      counts.accepted++;
      assert.deepEqual(value, JSON.parse(input.toString('utf8')));
      try {
        const patch = validate(memberPatchSchema, value, 'body');
        counts.patches++;
        assert.deepEqual(validate(memberPatchSchema, JSON.parse(JSON.stringify(patch)), 'body'), patch);
      } catch (err) {
        assert.ok(err instanceof ApiError && err.status === 400, `the schema threw ${String(err)}`);
        assert.match(err.message, /^invalid body: /);
      }
    });
    // the inputs reach every outcome
    const n = fuzzCount(20_000);
    assert.ok(counts.accepted > n / 20 && counts.refused > n / 20 && counts.patches > n / 1000, JSON.stringify(counts));
  });

  it(`fuzz: ${fuzzCount(500)} of those bodies sent to a running admin API are answered, none with a 500`, async () => {
    const a = await startTcpServer('a');
    const { base } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
    const inputs: Buffer[] = [];
    fuzz(0xad32, fuzzCount(500), generate, (input) => void inputs.push(input));
    const statuses = new Map<number, number>();
    for (const body of inputs) {
      const res = await fetch(`${base}/api/v1/pools/p/members/a`, {
        method: 'PATCH', body, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(res.status === 200 || res.status === 400, `${res.status} ${text} for ${body.toString('hex')}`);
      if (res.status === 400) assert.match(JSON.parse(text).error, /^(invalid body|the body is not valid JSON): /);
    }
    assert.ok((statuses.get(400) ?? 0) > 0, JSON.stringify([...statuses]));
  });
});
