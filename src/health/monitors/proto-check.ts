// The frame every protocol monitor runs one check in: settle once, close what was opened
// (on the result, and on abort), and turn a throw into a result instead of a rejection.

import type { CheckResult } from '../monitor.ts';
import { errorReason } from './common-reasons.ts';

/** What a check returns when its signal aborted; the scheduler ignores it and records the timeout. */
export const ABORTED: Readonly<CheckResult> = Object.freeze({ up: false, reason: 'aborted' });

export interface CheckScope {
  /** settles the check; the first call wins, later ones are ignored */
  done(result: CheckResult): void;
  up(reason: string): void;
  down(reason: string): void;
  /** runs `close` when the check settles (or at once if it already has); last registered runs first */
  defer(close: () => void): void;
  readonly settled: boolean;
}

/**
 * Runs one check. `start` opens sockets/timers and registers their closing with `scope.defer`;
 * whatever happens (a result, an abort, a throw) every deferred close runs exactly once before
 * the promise resolves. The promise never rejects.
 */
export function runCheck(signal: AbortSignal, start: (scope: CheckScope) => void): Promise<CheckResult> {
  if (signal.aborted) return Promise.resolve({ ...ABORTED });
  return new Promise((resolve) => {
    const closers: (() => void)[] = [];
    let settled = false;
    const onAbort = (): void => scope.done({ ...ABORTED });
    const scope: CheckScope = {
      done(result) {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        while (closers.length > 0) quietly(closers.pop()!);
        resolve(result);
      },
      up: (reason) => scope.done({ up: true, reason }),
      down: (reason) => scope.done({ up: false, reason }),
      defer(close) {
        if (settled) quietly(close);
        else closers.push(close);
      },
      get settled() {
        return settled;
      },
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      start(scope);
    } catch (err) {
      scope.down(`check failed: ${errorText(err)}`);
    }
  });
}

function quietly(close: () => void): void {
  try {
    close();
  } catch {
    // closing twice, or closing what never opened: nothing left to release
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A socket error in words. `transport` matters for ECONNREFUSED: over TCP it is a RST to our SYN,
 * over (connected) UDP it is an ICMP port unreachable that came back.
 */
export function socketErrorReason(err: unknown, transport: 'tcp' | 'udp'): string {
  // On a connected udp socket a refusal is the ICMP port unreachable the member sent back.
  if (transport === 'udp' && (err as NodeJS.ErrnoException | null)?.code === 'ECONNREFUSED') return 'ICMP port unreachable';
  return errorReason(err);
}
