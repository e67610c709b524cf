// The words of an agent's reply, as HAProxy's agent-check defines them: one line of words
// separated by spaces, tabs or commas, anything after '#' a description. A reply changes only
// what it names; the rest stays as the previous replies left it. Words that mean nothing (or
// that break their grammar: 300%, maxconn:-1) are ignored, as HAProxy ignores them.

import { printable } from './text.ts';

export interface AgentWords {
  /** ready / drain / maint: may the member take new connections (an operator-like state) */
  admin?: 'ready' | 'drain' | 'maint';
  /** up / down (fail, stopped): is the service on the member running */
  operational?: 'up' | 'down';
  /** N%: share of the configured weight, 0 to 256 */
  percent?: number;
  /** maxconn:N, 0 (no limit) to MAX_AGENT_MAXCONN */
  maxConnections?: number;
  /** the text after '#', control characters removed */
  description?: string;
  /** words that meant nothing (at most MAX_UNKNOWN of them, each cut at MAX_WORD) */
  unknown: string[];
}

/** The most an agent may say in one reply; HAProxy reads at most a buffer's worth too. */
export const MAX_AGENT_REPLY = 1024;
/** The highest weight percentage (HAProxy's weights end at 256). */
export const MAX_AGENT_PERCENT = 256;
/** The highest maxconn an agent may set (nine digits). */
export const MAX_AGENT_MAXCONN = 999_999_999;
const MAX_UNKNOWN = 16;
const MAX_WORD = 32;

const ADMIN: Record<string, AgentWords['admin']> = { ready: 'ready', drain: 'drain', maint: 'maint' };
const OPERATIONAL: Record<string, AgentWords['operational']> = { up: 'up', down: 'down', fail: 'down', stopped: 'down' };

function isSeparator(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x2c;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A whole number of 1 to `maxDigits` digits, the whole of `word` from `start`; -1 otherwise. */
function digits(word: string, start: number, end: number, maxDigits: number): number {
  const n = end - start;
  if (n < 1 || n > maxDigits) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = word.charCodeAt(i);
    if (!isDigit(c)) return -1;
    value = value * 10 + (c - 0x30);
  }
  return value;
}

/** Parses one reply line (latin1 text); anything past MAX_AGENT_REPLY characters is not read. */
export function parseAgentReply(reply: string): AgentWords {
  let line = reply.length > MAX_AGENT_REPLY ? reply.slice(0, MAX_AGENT_REPLY) : reply;
  const words: AgentWords = { unknown: [] };
  const hash = line.indexOf('#');
  if (hash !== -1) {
    words.description = printable(line.slice(hash + 1));
    line = line.slice(0, hash);
  }
  let i = 0;
  while (i < line.length) {
    while (i < line.length && isSeparator(line.charCodeAt(i))) i++;
    const start = i;
    while (i < line.length && !isSeparator(line.charCodeAt(i))) i++;
    if (i > start) word(words, line.slice(start, i).toLowerCase());
  }
  return words;
}

function word(words: AgentWords, w: string): void {
  const admin = ADMIN[w];
  if (admin !== undefined && Object.hasOwn(ADMIN, w)) {
    words.admin = admin;
    return;
  }
  const operational = OPERATIONAL[w];
  if (operational !== undefined && Object.hasOwn(OPERATIONAL, w)) {
    words.operational = operational;
    return;
  }
  if (w.charCodeAt(w.length - 1) === 0x25 /* % */) {
    const percent = digits(w, 0, w.length - 1, 3);
    if (percent >= 0 && percent <= MAX_AGENT_PERCENT) {
      words.percent = percent;
      return;
    }
  } else if (w.startsWith('maxconn:')) {
    const max = digits(w, 8, w.length, 9);
    if (max >= 0) {
      words.maxConnections = max;
      return;
    }
  }
  if (words.unknown.length < MAX_UNKNOWN) words.unknown.push(printable(w.length > MAX_WORD ? w.slice(0, MAX_WORD) : w));
}

/** The reply as it is shown (API, logs): bounded, without control characters. */
export function agentMessage(reply: string): string {
  return printable(reply.length > MAX_AGENT_REPLY ? reply.slice(0, MAX_AGENT_REPLY) : reply);
}
