// The agent's reply grammar (HAProxy agent-check): fixed cases, then seeded mutations of valid
// replies checked against an independent reading of the grammar.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentMessage, MAX_AGENT_REPLY, parseAgentReply, type AgentWords } from '../../../src/health/agent-reply.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

const WORDS = ['ready', 'drain', 'maint', 'up', 'down', 'fail', 'stopped', '0%', '50%', '100%', '256%', '257%', '999%', 'maxconn:0', 'maxconn:30', 'maxconn:999999999', 'maxconn:', 'bogus', 'READY', 'Drain'];
const DICTIONARY = [...WORDS, ' ', ',', '\t', '#', '%', 'maxconn:', '\r', '\n', '\x00', '\x1b[31m', '-1', '1000000000', '\xa0', '\x85'];

/** What the grammar says `reply` means, read with regular expressions (not the parser's code). */
function oracle(reply: string): Omit<AgentWords, 'unknown' | 'description'> {
  const line = reply.slice(0, MAX_AGENT_REPLY).split('#')[0];
  const out: Omit<AgentWords, 'unknown' | 'description'> = {};
  for (const raw of line.split(/[ \t,]+/)) {
    const w = raw.toLowerCase();
    if (/^(ready|drain|maint)$/.test(w)) out.admin = w as 'ready';
    else if (w === 'up') out.operational = 'up';
    else if (/^(down|fail|stopped)$/.test(w)) out.operational = 'down';
    else if (/^\d{1,3}%$/.test(w) && Number(w.slice(0, -1)) <= 256) out.percent = Number(w.slice(0, -1));
    else if (/^maxconn:\d{1,9}$/.test(w)) out.maxConnections = Number(w.slice(8));
  }
  return out;
}

function known(words: AgentWords): Omit<AgentWords, 'unknown' | 'description'> {
  const { unknown: _u, description: _d, ...rest } = words;
  return rest;
}

function validReply(f: Fuzzer): string {
  const n = 1 + f.int(4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(f.pick(WORDS));
  let line = parts.join(f.pick([' ', ',', ' , ', '\t']));
  if (f.int(3) === 0) line += ` # ${f.pick(['disk full', 'rolling restart', ''])}`;
  return line;
}

const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

describe('agent reply', () => {
  it('reads percentages 0% to 256% and maxconn up to nine digits; anything else is ignored', () => {
    assert.deepEqual(parseAgentReply('0% maxconn:0'), { percent: 0, maxConnections: 0, unknown: [] });
    assert.deepEqual(parseAgentReply('256%'), { percent: 256, unknown: [] });
    assert.deepEqual(parseAgentReply('257% 1000% -1% %  5.5% maxconn:-1 maxconn:1000000000 maxconn:'), {
      unknown: ['257%', '1000%', '-1%', '%', '5.5%', 'maxconn:-1', 'maxconn:1000000000', 'maxconn:'],
    });
    // a word that breaks its grammar does not undo an earlier valid one
    assert.deepEqual(parseAgentReply('75% 300%'), { percent: 75, unknown: ['300%'] });
  });

  it('splits on spaces, tabs and commas only; other bytes belong to the word', () => {
    assert.deepEqual(parseAgentReply('up\tdrain,,50%'), { operational: 'up', admin: 'drain', percent: 50, unknown: [] });
    assert.deepEqual(parseAgentReply('up\x0bdrain'), { unknown: ['up drain'] });
    assert.deepEqual(parseAgentReply('constructor __proto__ toString'), { unknown: ['constructor', '__proto__', 'tostring'] });
  });

  it('bounds what it keeps: the first 1024 characters, 16 unknown words of 32 characters', () => {
    const long = `${'x'.repeat(40)} `.repeat(50);
    const words = parseAgentReply(long);
    assert.equal(words.unknown.length, 16);
    assert.ok(words.unknown.every((w) => w.length === 32));
    assert.deepEqual(known(parseAgentReply(`${' '.repeat(MAX_AGENT_REPLY)}drain`)), {});
  });

  it('shows the reply and its description without control characters', () => {
    assert.equal(agentMessage('drain\x1b[2J # gone\x00 away\r'), 'drain [2J # gone away');
    assert.equal(parseAgentReply('down # disk\x07 full\x9b').description, 'disk full');
    assert.equal(agentMessage('x'.repeat(5000)).length, MAX_AGENT_REPLY);
  });

  it(`fuzz: ${fuzzCount(40_000)} mutated replies never throw and mean what the grammar says`, () => {
    fuzz(0xa6e47, fuzzCount(40_000), (f, i) => {
      const base = Buffer.from(validReply(f), 'latin1');
      return i % 10 === 0 ? f.bytes(f.int(64)) : f.mutate(base, DICTIONARY);
    }, (input) => {
      const reply = input.toString('latin1');
      const words = parseAgentReply(reply);
      assert.deepEqual(known(words), oracle(reply));
      if (words.percent !== undefined) assert.ok(Number.isInteger(words.percent) && words.percent >= 0 && words.percent <= 256);
      if (words.maxConnections !== undefined) assert.ok(Number.isInteger(words.maxConnections) && words.maxConnections <= 999_999_999);
      assert.ok(words.unknown.length <= 16);
      for (const text of [words.description ?? '', agentMessage(reply), ...words.unknown]) assert.doesNotMatch(text, CONTROL);
      // what was understood, written back as a reply, reads the same
      const again = [words.admin, words.operational, words.percent === undefined ? undefined : `${words.percent}%`,
        words.maxConnections === undefined ? undefined : `maxconn:${words.maxConnections}`].filter((w) => w !== undefined).join(' ');
      assert.deepEqual(known(parseAgentReply(again)), known(words));
    });
  });
});
