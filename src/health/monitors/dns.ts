// dns: one query (name, type) over UDP or TCP; up when the response code is the expected one
// ('NOERROR') and, if asked, one answer's data equals the expected value.

import { randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, RecordType } from 'dns-packet';
import type { DnsMonitor } from '../../config/health-types.ts';
import type { CheckResult, Monitor } from '../monitor.ts';
import { errorText, runCheck } from './proto-check.ts';
import { sameAddress } from './proto-ip.ts';
import { tcpExchange, udpExchange } from './proto-transport.ts';

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
/** a DNS message over TCP is at most 64 KiB, after its 2-byte length */
const TCP_MAX = 2 + 0xffff;
/** we send no EDNS0, so a server may answer in 512 bytes; anything past 4096 is not a DNS answer to us */
const UDP_MAX = 4096;

// dns-packet encodes a type it does not know as 0 without a word: ask it first
const recordTypes = createRequire(import.meta.url)('dns-packet/types') as { toType(name: string): number };

/** Throws for a query type dns-packet cannot encode. */
export function createDnsMonitor(config: DnsMonitor): Monitor {
  const type = config.queryType.toUpperCase() as RecordType;
  if (recordTypes.toType(type) === 0) throw new Error(`dns monitor: unknown query type ${config.queryType}`);
  const name = normalizeName(config.name);
  const expectRcode = config.expectRcode.toUpperCase();

  return {
    run(target, signal) {
      return runCheck(signal, (scope) => {
        const id = randomInt(0, 0x10000);
        const query = {
          type: 'query' as const,
          id,
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ type, name, class: 'IN' as const }],
        };

        // null: not the answer to our query (a stray datagram); a result otherwise
        const judge = (message: Buffer, viaUdp: boolean): CheckResult | null => {
          if (message.length < 12 || message.readUInt16BE(0) !== id) return null;
          let response: DecodedPacket;
          try {
            response = dnsPacket.decode(message);
          } catch (err) {
            return { up: false, reason: `malformed DNS response: ${errorText(err)}` };
          }
          const question = response.questions?.[0];
          if (
            !response.flag_qr ||
            response.questions?.length !== 1 ||
            question === undefined ||
            normalizeName(question.name) !== name ||
            question.type !== type
          ) {
            return null;
          }
          const rcode = RCODES[message[3] & 0x0f] ?? `RCODE${message[3] & 0x0f}`;
          if (rcode !== expectRcode) return { up: false, reason: `rcode ${rcode}, expected ${expectRcode}` };
          if (config.expectAnswer === null) return { up: true, reason: rcode };
          const expected = config.expectAnswer;
          if ((response.answers ?? []).some((answer) => answerMatches(answer, expected))) return { up: true, reason: rcode };
          const truncated = viaUdp && response.flag_tc ? ' (response truncated: use transport tcp)' : '';
          return { up: false, reason: `no answer matched ${expected}${truncated}` };
        };

        const datagram = dnsPacket.encode(query);
        if (config.transport === 'udp') {
          udpExchange(
            scope,
            target,
            (peer) => peer.send(datagram),
            (message) => {
              if (message.length > UDP_MAX) return scope.down(`DNS response larger than ${UDP_MAX} bytes`);
              const result = judge(message, true);
              if (result !== null) scope.done(result);
            },
          );
          return;
        }
        const length = Buffer.alloc(2);
        length.writeUInt16BE(datagram.length);
        tcpExchange(scope, target, (peer) => peer.send(Buffer.concat([length, datagram])), {
          maxBytes: TCP_MAX,
          tooLarge: 'DNS response too large',
          onData(buffered) {
            if (buffered.length < 2) return 0;
            const length = buffered.readUInt16BE(0);
            if (buffered.length < 2 + length) return 0;
            // one query on this connection: the first message must be its answer
            scope.done(judge(buffered.subarray(2, 2 + length), false) ?? { up: false, reason: 'DNS response did not match the query' });
            return 2 + length;
          },
        });
      });
    },
  };
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Whether one answer record's data is `expected`: an address, a name, or text. */
function answerMatches(answer: Answer, expected: string): boolean {
  switch (answer.type) {
    case 'A':
    case 'AAAA':
      return sameAddress(answer.data, expected);
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
