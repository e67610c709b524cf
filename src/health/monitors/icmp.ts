// icmp: one ICMP (or ICMPv6) echo request; up on the matching echo reply, down on an ICMP error
// that quotes our request ('ICMP host unreachable', ...). The raw sockets are shared by all
// icmp monitors of the process (proto-icmp-socket.ts).

import type { IcmpMonitor } from '../../config/health-types.ts';
import type { Monitor } from '../monitor.ts';
import { runCheck } from './proto-check.ts';
import { acquireIcmp } from './proto-icmp-socket.ts';

export { RAW_SOCKET_DENIED, openIcmpSockets } from './proto-icmp-socket.ts';

/** Throws (with what is missing: root or CAP_NET_RAW) when the process cannot open a raw socket. */
export function createIcmpMonitor(config: IcmpMonitor): Monitor & { close(): void } {
  void config; // timing is the scheduler's; an echo has nothing else to configure
  const lease = acquireIcmp();
  return {
    run(target, signal) {
      return runCheck(signal, (scope) => {
        const cancel = lease.echo(target.ip, {
          reply: () => scope.up('echo reply'),
          fail: (reason) => scope.down(reason),
        });
        scope.defer(cancel);
      });
    },
    close() {
      lease.release();
    },
  };
}
