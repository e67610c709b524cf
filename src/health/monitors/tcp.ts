// tcp: connect within the timeout; optionally write `send` and read until the reply matches
// `expect` (banner protocols: SMTP's 220, Redis' +PONG). The read is bounded: a peer that
// streams without matching fails once MAX_REPLY bytes have come.

import net from 'node:net';
import type { TcpMonitor } from '../../config/health-types.ts';
import type { CheckResult, CheckTarget, Monitor } from '../monitor.ts';
import { errorReason } from './common-reasons.ts';
import { compileMatcher } from './match.ts';

/** the most reply bytes read while waiting for `expect` to match */
export const MAX_REPLY = 16 * 1024;

export function createTcpMonitor(config: TcpMonitor): Monitor {
  const send = config.send;
  const matcher = config.expect === null ? null : compileMatcher(config.expect);

  return {
    run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
      return new Promise((resolve) => {
        if (signal.aborted) return resolve({ up: false, reason: 'aborted' });
        let verdict: CheckResult | null = null;
        let reply = Buffer.alloc(0);
        let size = 0;

        const socket = net.connect({ host: target.ip, port: target.port });
        // the verdict is given once; the promise settles when the socket is really closed, so
        // a caller counting handles never sees one left behind
        const decide = (result: CheckResult): void => {
          if (verdict !== null) return;
          verdict = result;
          signal.removeEventListener('abort', onAbort);
          socket.destroy();
        };
        const onAbort = (): void => decide({ up: false, reason: 'aborted' });
        signal.addEventListener('abort', onAbort, { once: true });

        socket.on('close', () => {
          decide({ up: false, reason: 'connection closed' });
          resolve(verdict!);
        });
        socket.on('error', (err) => decide({ up: false, reason: errorReason(err) }));
        socket.on('connect', () => {
          const up = (): void => decide({ up: true, reason: 'connected' });
          if (send === null) {
            if (matcher === null) up();
            return;
          }
          // without expect: up once the payload is handed to the kernel (an error comes as 'error')
          socket.write(send, matcher === null ? (err) => { if (!err) up(); } : undefined);
        });
        if (matcher === null) return;
        socket.on('data', (chunk: Buffer) => {
          if (verdict !== null) return;
          // only the first MAX_REPLY bytes are ever kept
          reply = Buffer.concat([reply, chunk.subarray(0, MAX_REPLY - reply.length)]);
          size += chunk.length;
          if (matcher.test(reply)) return decide({ up: true, reason: `reply matched ${matcher.describe}` });
          if (size >= MAX_REPLY) decide({ up: false, reason: `reply did not match ${matcher.describe}` });
        });
        socket.on('end', () => decide({
          up: false,
          reason: size === 0
            ? `connection closed before a reply matched ${matcher.describe}`
            : `reply did not match ${matcher.describe}`,
        }));
      });
    },
  };
}
