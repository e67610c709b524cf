// SIPp peers for the `balance-per: sip-dialog` tests: a UAS that answers calls and logs what it
// receives, its log read back by Call-ID, and SIPp's built-in UAC placing calls from one socket.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SipMonitor } from '../../src/config/health-types.ts';
import { createSipMonitor } from '../../src/health/monitors/sip.ts';
import { tempDir } from '../helpers/files.ts';
import { freePort } from '../helpers/ports.ts';
import { COMMON, loopback, retryPortClash, startPeer } from '../health/helpers-proto.ts';
import { response, scenario, startSipp, type Sipp } from '../health/helpers-proto-sip.ts';

const NOT_LISTENING = new Set(['ICMP port unreachable', 'connection refused']);

/** A UAS that answers one call: 180, 200, then the ACK, then 200 to the BYE. */
const UAS = scenario('uas call', 'INVITE', [
  response('180 Ringing'),
  response('200 OK'),
  '  <recv request="ACK" />\n  <recv request="BYE" />\n',
  response('200 OK'),
]);

/** A UAS whose received messages are logged to `log` (-trace_msg). */
export async function uas(log: string): Promise<Sipp> {
  const monitor: SipMonitor = { type: 'sip', ...COMMON, transport: 'udp', method: 'OPTIONS', uri: null, user: 'furiwake', expectStatus: [200] };
  // ready once a probe gets anything but a refusal (-aa: SIPp answers OPTIONS outside its scenario)
  return startSipp(UAS, 'udp', async (port) => !NOT_LISTENING.has((await createSipMonitor(monitor).run(loopback(port), AbortSignal.timeout(5000))).reason), ['-aa', '-trace_msg', '-message_file', log]);
}

/** The requests a UAS received, by Call-ID (the readiness probes' OPTIONS left out). */
export async function received(log: string): Promise<Map<string, string[]>> {
  const calls = new Map<string, string[]>();
  for (const block of (await readFile(log, 'latin1')).split(/message received \[\d+\] bytes :/).slice(1)) {
    const method = /^\s*([A-Z]+) sip:/.exec(block)?.[1];
    const callId = /^Call-ID:\s*(\S+)/im.exec(block)?.[1];
    if (method === undefined || method === 'OPTIONS' || callId === undefined) continue;
    calls.set(callId, [...(calls.get(callId) ?? []), method]);
  }
  return calls;
}

export interface UacResult {
  /** SIPp's exit code: 0 when every call succeeded */
  code: number | string | null;
  /** its one source port */
  port: number;
  /** calls that succeeded and failed, from its statistics */
  successful: number;
  failed: number;
  /** what SIPp printed */
  output: string;
}

/**
 * SIPp's built-in UAC placing `calls` calls to `port` from one socket, 50 a second; `extra`
 * arguments after ours. Resolves when it exits.
 */
export async function uac(port: number, calls: number, extra: string[] = []): Promise<UacResult> {
  const dir = await tempDir('sipp-uac');
  const stats = path.join(dir, 'stats.csv');
  return retryPortClash(async () => {
    const own = await freePort();
    const peer = startPeer('sipp', [
      '-sn', 'uac', `127.0.0.1:${port}`,
      '-i', '127.0.0.1', '-p', String(own), '-t', 'u1',
      '-m', String(calls), '-r', '50', '-l', String(calls),
      '-ci', '127.0.0.1', '-cp', String(await freePort()),
      '-mi', '127.0.0.1', '-mp', String(await freePort('127.0.0.1', 3)),
      '-timeout', '60s', '-nostdin',
      '-trace_stat', '-stf', stats, '-fd', '1',
      ...extra,
    ], { cwd: dir });
    const code = await peer.exited;
    // 255 with a bind error: the port was taken meanwhile (retryPortClash tries others)
    if (code !== 0 && /bind|Address already in use/i.test(peer.output())) throw Object.assign(new Error(peer.output()), { code: 'EADDRINUSE' });
    const [head, ...rows] = (await readFile(stats, 'utf8')).trim().split('\n');
    const names = head.split(';');
    const last = rows[rows.length - 1].split(';');
    const count = (name: string): number => Number(last[names.indexOf(name)]);
    return { code, port: own, successful: count('SuccessfulCall(C)'), failed: count('FailedCall(C)'), output: peer.output() };
  });
}
