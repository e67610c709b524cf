// sip: one OPTIONS (or REGISTER) transaction over UDP or TCP, well formed per RFC 3261; the
// response is matched to it (top Via branch, Call-ID, CSeq), provisional 1xx responses are
// skipped, and the final status must be one of expectStatus.

import { randomBytes } from 'node:crypto';
import { hostPort, uriHost } from '../../config/address.ts';
import type { SipMonitor } from '../../config/health-types.ts';
import type { CheckTarget, Monitor } from '../monitor.ts';
import { runCheck } from './proto-check.ts';
import type { Endpoint } from './proto-transport.ts';
import { tcpExchange, udpExchange } from './proto-transport.ts';
import { belongsTo, MAX_SIP_MESSAGE as MAX_MESSAGE, parseSipResponse, type SipResponse, type SipTransaction as Transaction } from './sip-reply.ts';
/** RFC 3261 timers for retransmitting a non-INVITE request over UDP (Timer E) */
const T1 = 500;
const T2 = 4000;

export function createSipMonitor(config: SipMonitor): Monitor {
  const expected = new Set(config.expectStatus);
  return {
    run(target, signal) {
      return runCheck(signal, (scope) => {
        const transaction = {
          branch: `z9hG4bK${randomBytes(12).toString('hex')}`,
          tag: randomBytes(6).toString('hex'),
          callId: randomBytes(12).toString('hex'),
        };

        // true when the message was a response to our request (and settled the check, if final)
        const onResponse = (message: SipResponse): boolean => {
          if (!belongsTo(message, transaction, config.method)) return false;
          if (message.status < 200) return true;
          const reason = `SIP ${message.status}${message.phrase === '' ? '' : ` ${message.phrase}`}`;
          if (expected.has(message.status)) scope.up(reason);
          else scope.down(reason);
          return true;
        };

        if (config.transport === 'udp') {
          let timer: NodeJS.Timeout | undefined;
          let wait = T1;
          let provisional = false;
          scope.defer(() => clearTimeout(timer));
          udpExchange(
            scope,
            target,
            (peer) => {
              const request = Buffer.from(sipRequest(config, target, peer.local, 'UDP', transaction), 'utf8');
              // Timer E: retransmit at T1, doubling up to T2; at T2 once a provisional response came
              const send = (): void => {
                peer.send(request);
                timer = setTimeout(send, provisional ? T2 : wait);
                wait = Math.min(wait * 2, T2);
              };
              send();
            },
            (datagram) => {
              // the socket is connected: only the member's datagrams come here
              const message = parseSipResponse(datagram);
              if (typeof message === 'string') return scope.down(`malformed SIP response: ${message}`);
              if (message.contentLength !== null && message.contentLength > datagram.length - message.headLength) {
                return scope.down('malformed SIP response: body shorter than its Content-Length');
              }
              if (onResponse(message) && message.status < 200) provisional = true;
            },
          );
          return;
        }

        tcpExchange(
          scope,
          target,
          (peer) => peer.send(Buffer.from(sipRequest(config, target, peer.local, 'TCP', transaction), 'utf8')),
          {
            maxBytes: MAX_MESSAGE,
            tooLarge: `SIP response larger than ${MAX_MESSAGE} bytes`,
            onData(buffered) {
              // keep-alive CRLFs between messages (RFC 5626)
              let start = 0;
              while (start < buffered.length && (buffered[start] === 0x0d || buffered[start] === 0x0a)) start++;
              if (start > 0) return start;
              const end = buffered.indexOf('\r\n\r\n');
              if (end < 0) return 0;
              const message = parseSipResponse(buffered.subarray(0, end + 4));
              if (typeof message === 'string') {
                scope.down(`malformed SIP response: ${message}`);
                return 0;
              }
              // over a stream, Content-Length frames the message (RFC 3261 18.3)
              if (message.contentLength === null) {
                scope.down('malformed SIP response (no Content-Length over TCP)');
                return 0;
              }
              const total = end + 4 + message.contentLength;
              if (buffered.length < total) return 0;
              onResponse(message);
              return total;
            },
          },
        );
      });
    },
  };
}

/** The request, with our own address in Via and Contact (the address the socket really uses). */
function sipRequest(config: SipMonitor, target: CheckTarget, local: Endpoint, transport: 'UDP' | 'TCP', t: Transaction): string {
  const uri = config.uri ?? `sip:${hostPort(target.ip, target.port)}`;
  const ours = hostPort(local.ip, local.port);
  const from = `<sip:${config.user}@${uriHost(local.ip)}>;tag=${t.tag}`;
  const lines = [
    `${config.method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${ours};branch=${t.branch};rport`,
    'Max-Forwards: 70',
  ];
  if (config.method === 'OPTIONS') {
    lines.push(`From: ${from}`, `To: <${uri}>`);
  } else {
    // REGISTER for the address of record user@<member host>; no Contact: a query of the
    // bindings (RFC 3261 10.2.3), so a health check never changes the registrar's state
    const aor = `<sip:${config.user}@${uriHost(target.host)}>`;
    lines.push(`From: ${aor};tag=${t.tag}`, `To: ${aor}`);
  }
  lines.push(`Call-ID: ${t.callId}@${uriHost(local.ip)}`, `CSeq: 1 ${config.method}`);
  if (config.method === 'OPTIONS') {
    lines.push(`Contact: <sip:${config.user}@${ours}${transport === 'TCP' ? ';transport=tcp' : ''}>`, 'Accept: application/sdp');
  }
  lines.push('User-Agent: furiwake health check', 'Content-Length: 0', '', '');
  return lines.join('\r\n');
}
