// Syslog messages as RFC 5424 writes them:
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
// PRI = facility * 8 + severity; the timestamp is UTC with milliseconds; no structured data (-).
// The fixed middle of the header is made once per sink; a message costs one concatenation.

import { hostname } from 'node:os';
import { isoNow } from './clock.ts';
import { LogKind } from './sink.ts';

/** MSGID of each log: `access` for request lines, `process` for the process log. */
const MSGIDS = ['process', 'access'] as const;

export class Rfc5424 {
  readonly #facility: number;
  /** ` HOSTNAME APP-NAME PROCID MSGID - ` by LogKind */
  readonly #middles: string[];

  constructor(facility: number, appName: string, host: string | null) {
    this.#facility = facility * 8;
    const name = host ?? headerWord(hostname(), 255);
    this.#middles = MSGIDS.map((msgid) => ` ${name} ${appName} ${process.pid} ${msgid} - `);
  }

  format(message: string, severity: number, kind: LogKind): string {
    return `<${this.#facility + severity}>1 ${isoNow()}${this.#middles[kind]}${message}`;
  }
}

/** A header field is printable ASCII without spaces, bounded; anything else becomes `-` (RFC 5424's nil). */
function headerWord(text: string, max: number): string {
  return text.length > 0 && text.length <= max && /^[\x21-\x7e]+$/.test(text) ? text : '-';
}
