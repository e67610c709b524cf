// Judging a DNS answer to our query: the header read field by field (our ID, a response, opcode
// QUERY, one question that is ours byte for byte, ignoring case), then the rest decoded with
// dns-packet, whose throw on a malformed record becomes the reason.

import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket } from 'dns-packet';
import type { CheckResult } from '../monitor.ts';
import { errorText } from './proto-check.ts';
import { sameAddress } from './proto-ip.ts';

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
const HEADER = 12;

export interface DnsExpectation {
  /** NOERROR, NXDOMAIN, ... (upper case) */
  rcode: string;
  /** a value one answer record must have, null = any */
  answer: string | null;
}

function down(why: string): CheckResult {
  return { up: false, reason: `malformed DNS response: ${why}` };
}

/** ASCII letters compared without case, every other byte exactly (DNS names, RFC 4343). */
function sameIgnoringCase(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] >= 0x41 && a[i] <= 0x5a ? a[i] | 0x20 : a[i];
    const y = b[i] >= 0x41 && b[i] <= 0x5a ? b[i] | 0x20 : b[i];
    if (x !== y) return false;
  }
  return true;
}

/**
 * The check's result from `message` (from the member) for `query` (the bytes we sent, one
 * question); null when it carries another ID (not ours: over UDP, keep waiting).
 */
export function judgeDnsReply(message: Buffer, query: Buffer, expect: DnsExpectation, viaUdp: boolean): CheckResult | null {
  if (message.length < HEADER) return down(`shorter than a DNS header (${message.length} bytes)`);
  if (message.readUInt16BE(0) !== query.readUInt16BE(0)) return null;
  const flags = message.readUInt16BE(2);
  if ((flags & 0x8000) === 0) return down('not a response (QR is 0)');
  if ((flags & 0x7800) !== 0) return down(`opcode ${(flags >> 11) & 0x0f}, not QUERY`);
  const rcodeValue = flags & 0x000f;
  const rcode = RCODES[rcodeValue] ?? `RCODE${rcodeValue}`;
  const questions = message.readUInt16BE(4);
  // a server may leave out the question of a query it could not read (FORMERR, NOTIMP)
  if (questions === 0 && rcodeValue !== 0) return result(rcode, expect, null, viaUdp);
  if (questions !== 1) return down(`${questions} questions, expected ours alone`);
  const question = query.subarray(HEADER);
  if (!sameIgnoringCase(message.subarray(HEADER, HEADER + question.length), question)) return down('the question is not ours');
  let response: DecodedPacket;
  try {
    response = dnsPacket.decode(message);
  } catch (err) {
    return down(errorText(err));
  }
  return result(rcode, expect, response, viaUdp);
}

function result(rcode: string, expect: DnsExpectation, response: DecodedPacket | null, viaUdp: boolean): CheckResult {
  if (rcode !== expect.rcode) return { up: false, reason: `rcode ${rcode}, expected ${expect.rcode}` };
  if (expect.answer === null) return { up: true, reason: rcode };
  const expected = expect.answer;
  if ((response?.answers ?? []).some((answer) => answerMatches(answer, expected))) return { up: true, reason: rcode };
  const truncated = viaUdp && response?.flag_tc === true ? ' (response truncated: use transport tcp)' : '';
  return { up: false, reason: `no answer matched ${expected}${truncated}` };
}

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Whether one answer record's data is `expected`: an address, a name, or text. */
function answerMatches(answer: Answer, expected: string): boolean {
  switch (answer.type) {
    case 'A':
    case 'AAAA':
      return typeof answer.data === 'string' && sameAddress(answer.data, expected);
    case 'CNAME':
    case 'DNAME':
    case 'NS':
    case 'PTR':
      return normalizeName(answer.data) === normalizeName(expected);
    case 'MX':
      return normalizeName(answer.data.exchange) === normalizeName(expected);
    case 'SRV':
      return normalizeName(answer.data.target) === normalizeName(expected);
    case 'SOA':
      return normalizeName(answer.data.mname) === normalizeName(expected);
    case 'TXT': {
      const parts = Array.isArray(answer.data) ? answer.data : [answer.data];
      return parts.map((p) => (typeof p === 'string' ? p : p.toString('utf8'))).join('') === expected;
    }
    default:
      return false;
  }
}
