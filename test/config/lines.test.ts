// Every issue carries the line of the key it is about, in YAML and in JSON; syntax errors
// carry line and column.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issuesOf } from './refused.ts';

const located = (text: string, file = 'test.yaml') =>
  issuesOf(text, {}, file).map(({ line, column, path, message }) => ({ line, column, path, message }));

describe('line numbers', () => {
  it('point at the key, in block and flow style, inside lists', () => {
    const text = `services:
  www:
    listen: 127.0.0.1:80
    mode: tcp
    pool: web
    timeouts:
      connect: soon
pools:
  web:
    members:
      - address: 10.0.0.1:80

      - address: 10.0.0.2:80
        weight: heavy
      - { address: 10.0.0.3, id: c }
`;
    assert.deepEqual(issuesOf(text).map((i) => [i.line, i.path]), [
      [7, 'services.www.timeouts.connect'],
      [14, 'pools.web.members[1].weight'],
      [15, 'pools.web.members[2].address'],
    ]);
  });

  it('point at the enclosing key when the key is missing', () => {
    const text = `services:
  www:
    listen: 127.0.0.1:80
    pool: web
pools:
  web: { members: [ { address: 10.0.0.1:80 } ] }
`;
    assert.deepEqual(issuesOf(text).map((i) => [i.line, i.path]), [[2, 'services.www.mode']]);
  });

  it('point at an unknown key itself', () => {
    const text = `services: {}
pools:
  web:
    members:
      - address: 10.0.0.1:80
        wieght: 2
`;
    assert.deepEqual(issuesOf(text).map((i) => [i.line, i.path, i.message]), [
      [6, 'pools.web.members[0].wieght', 'unknown key "wieght"; did you mean "weight"?'],
    ]);
  });

  it('work in JSON files', () => {
    const json = `{
  "services": {
    "www": { "listen": "127.0.0.1:80", "mode": "tcp", "pool": "web" }
  },
  "pools": {
    "web": {
      "members": [
        { "address": "10.0.0.1:80" },
        { "address": "10.0.0.2:80", "weight": "heavy" }
      ]
    }
  }
}`;
    assert.deepEqual(located(json, 'furiwake.json'), [
      { line: 9, column: undefined, path: 'pools.web.members[1].weight', message: 'expected a whole number from 0 to 256, got "heavy"' },
    ]);
  });
});

describe('syntax errors', () => {
  it('JSON: what is wrong, at line and column', () => {
    const json = '{\n  "services": {},\n  "pools": {},\n}\n';
    assert.deepEqual(located(json, 'furiwake.json'), [
      { line: 4, column: 1, path: '', message: 'invalid JSON: Expected double-quoted property name' },
    ]);
    assert.deepEqual(located('{\n  "services": {\n', 'furiwake.json'), [
      { line: 3, column: 1, path: '', message: "invalid JSON: Expected property name or '}'" },
    ]);
    assert.deepEqual(located('', 'furiwake.json'), [
      { line: 1, column: 1, path: '', message: 'invalid JSON: the file ends before the value does' },
    ]);
  });

  it('JSON: a duplicate key is an error, not "the last one wins"', () => {
    const json = '{\n  "services": {},\n  "pools": {},\n  "pools": {}\n}\n';
    assert.deepEqual(located(json, 'furiwake.json'), [
      { line: 4, column: 3, path: 'pools', message: 'duplicate key "pools"; each key may appear once in a map' },
    ]);
  });

  it('YAML: the first error only, since the rest follows from it', () => {
    const issues = located('services:\n  www: [1, 2\npools: {}\n');
    assert.equal(issues.length, 1);
    assert.equal(issues[0].line, 3); // where the parser found the list still open
    assert.equal(issues[0].path, '');
  });

  it('YAML: every duplicate key', () => {
    assert.deepEqual(located('services: {}\npools: {}\nservices: {}\npools: {}\n'), [
      { line: 3, column: 1, path: 'services', message: 'duplicate key "services"; each key may appear once in a map' },
      { line: 4, column: 1, path: 'pools', message: 'duplicate key "pools"; each key may appear once in a map' },
    ]);
  });

  it('YAML: a duplicate key is named by its path, beside the file\'s other problems', () => {
    const text = [
      'services:',
      '  www: { listen: 127.0.0.1:80, mode: tcp, pool: web, pool: web, retries: many }',
      'pools:',
      '  web:',
      '    members:',
      '      - { address: 10.0.0.1:80, weight: 2 }',
      '      - { address: 10.0.0.2:80, weight: 1, weight: 3 }',
      '      - { address: nowhere }',
    ].join('\n');
    assert.deepEqual(located(text).map((i) => [i.line, i.path, i.message]), [
      [2, 'services.www.pool', 'duplicate key "pool"; each key may appear once in a map'],
      [2, 'services.www.retries', 'expected a whole number from 0 to 10, got "many"'],
      [7, 'pools.web.members[1].weight', 'duplicate key "weight"; each key may appear once in a map'],
      [8, 'pools.web.members[2].address', 'expected host:port (IPv6 in brackets), got "nowhere"'],
    ]);
  });

  it('YAML: an unquoted ${VAR} inside { } gets a hint', () => {
    const [issue] = located('services: {}\npools:\n  web: { members: [ { address: ${HOST}:80 } ] }\n');
    assert.equal(issue.line, 3);
    assert.match(issue.message, /\(inside \{ \} or \[ \], quote a value that holds \$\{VAR\}: "\$\{VAR\}"\)$/);
  });
});
