// udp: send a payload from a socket connected to the member, so the kernel delivers an ICMP
// port unreachable for it as ECONNREFUSED on that socket. Up on a reply ('any'), on a reply that
// matches, or — with 'no-unreachable' — on silence until the timeout.

import dgram from 'node:dgram';
import net from 'node:net';
import type { UdpMonitor } from '../../config/health-types.ts';
import type { CheckResult, CheckTarget, Monitor } from '../monitor.ts';
import { errorReason } from './common-reasons.ts';
import { compileMatcher } from './match.ts';

export function createUdpMonitor(config: UdpMonitor): Monitor {
  const payload = config.send;
  const expect = config.expect;
  const matcher = typeof expect === 'string' ? null : compileMatcher(expect);
  // 'no-unreachable' passes AT the abort: the scheduler's timeout is the window in which an
  // ICMP port unreachable may come back. Its result after the abort is the verdict, which the
  // scheduler learns from `passesOnTimeout` (any other monitor's result after an abort is a timeout).
  const silencePasses = expect === 'no-unreachable';

  const monitor: Monitor = {
    run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
      return new Promise((resolve) => {
        const atAbort: CheckResult = silencePasses
          ? { up: true, reason: 'no ICMP port unreachable' }
          : { up: false, reason: 'aborted' };
        if (signal.aborted) return resolve(atAbort);
        let verdict: CheckResult | null = null;
        const socket = dgram.createSocket(net.isIPv6(target.ip) ? 'udp6' : 'udp4');
        const decide = (result: CheckResult): void => {
          if (verdict !== null) return;
          verdict = result;
          signal.removeEventListener('abort', onAbort);
          // settle once the socket is closed, so no handle outlives the check
          socket.close(() => resolve(result));
        };
        const onAbort = (): void => decide(atAbort);
        signal.addEventListener('abort', onAbort, { once: true });

        socket.on('error', (err: NodeJS.ErrnoException) => {
          decide({ up: false, reason: err.code === 'ECONNREFUSED' ? 'ICMP port unreachable' : errorReason(err) });
        });
        // connected, the kernel only delivers datagrams from the member: the first reply decides
        socket.on('message', (msg) => {
          if (matcher === null) return decide({ up: true, reason: 'reply received' });
          decide(matcher.test(msg)
            ? { up: true, reason: `reply matched ${matcher.describe}` }
            : { up: false, reason: `reply did not match ${matcher.describe}` });
        });
        socket.connect(target.port, target.ip, () => {
          if (verdict !== null) return;
          socket.send(payload, (err: NodeJS.ErrnoException | null) => {
            if (err) decide({ up: false, reason: err.code === 'ECONNREFUSED' ? 'ICMP port unreachable' : errorReason(err) });
          });
        });
      });
    },
  };
  if (silencePasses) return { ...monitor, passesOnTimeout: true };
  return monitor;
}
