// SIPp as a SIP UAS for the sip monitor tests: a scenario written into a temporary directory,
// SIPp in the foreground as a child of the test, on free loopback ports (SIP, control, media).

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Peer } from './helpers-proto.ts';
import { pollUntil, retryPortClash, startPeer } from './helpers-proto.ts';
import { tempDir } from '../helpers/files.ts';
import { freePort } from '../helpers/ports.ts';

export interface Sipp {
  port: number;
  peer: Peer;
}

/** A response to the request SIPp last received, with the headers it must copy (RFC 3261 8.2.6). */
export function response(status: string, overrides: { via?: string; cseq?: string; callId?: string; toTag?: boolean } = {}): string {
  const lines = [
    `SIP/2.0 ${status}`,
    overrides.via ?? '[last_Via:]',
    '[last_From:]',
    overrides.toTag === false ? '[last_To:]' : '[last_To:];tag=[pid]SIPpTag01[call_number]',
    overrides.callId ?? '[last_Call-ID:]',
    overrides.cseq ?? '[last_CSeq:]',
    'Contact: <sip:[local_ip]:[local_port];transport=[transport]>',
    'Content-Length: 0',
  ];
  return `  <send>\n    <![CDATA[\n\n${lines.join('\n')}\n\n    ]]>\n  </send>\n`;
}

/** A UAS scenario: receive `method`, send the given responses in order. */
export function scenario(name: string, method: string, responses: string[]): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="${name}">
  <recv request="${method}" />
${responses.join('')}</scenario>
`;
}

/**
 * Starts SIPp with the scenario over 'udp' (-t u1) or 'tcp' (-t t1), with `extra` arguments, and resolves once `answers`
 * (a real request to the port) says it answers: SIPp prints no "ready" line. If a port was taken
 * before SIPp bound it, SIPp exits at once and is started again on other ports.
 */
export async function startSipp(xml: string, transport: 'udp' | 'tcp', answers: (port: number) => Promise<boolean>, extra: string[] = []): Promise<Sipp> {
  const dir = await tempDir('sipp');
  const file = path.join(dir, 'uas.xml');
  await writeFile(file, xml);
  return retryPortClash(async () => {
    const port = await freePort();
    const controlPort = await freePort();
    const mediaPort = await freePort('127.0.0.1', 3); // SIPp binds the media port and the port + 2
    const peer = startPeer(
      'sipp',
      [
        '-sf', file,
        '-i', '127.0.0.1',
        '-p', String(port),
        '-t', transport === 'udp' ? 'u1' : 't1',
        '-ci', '127.0.0.1',
        '-cp', String(controlPort),
        '-mi', '127.0.0.1',
        '-mp', String(mediaPort),
        '-nostdin',
        ...extra,
      ],
      { cwd: dir },
    );
    await pollUntil(peer, () => answers(port));
    return { port, peer };
  });
}
