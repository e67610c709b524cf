// dns: one query (name, type) over UDP or TCP; up when the response code is the expected one
// ('NOERROR') and, if asked, one answer's data equals the expected value.

import { randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import dnsPacket from 'dns-packet';
import type { RecordType } from 'dns-packet';
import type { DnsMonitor } from '../../config/health-types.ts';
import type { Monitor } from '../monitor.ts';
import { judgeDnsReply, normalizeName } from './dns-reply.ts';
import { runCheck } from './proto-check.ts';
import { tcpExchange, udpExchange } from './proto-transport.ts';

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

        const datagram = dnsPacket.encode(query);
        const expect = { rcode: expectRcode, answer: config.expectAnswer };
        if (config.transport === 'udp') {
          udpExchange(
            scope,
            target,
            (peer) => peer.send(datagram),
            (message) => {
              if (message.length > UDP_MAX) return scope.down(`DNS response larger than ${UDP_MAX} bytes`);
              const result = judgeDnsReply(message, datagram, expect, true);
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
            scope.done(judgeDnsReply(buffered.subarray(2, 2 + length), datagram, expect, false) ?? { up: false, reason: 'DNS response did not match the query' });
            return 2 + length;
          },
        });
      });
    },
  };
}
