// One line of keepalived's notify FIFO: `INSTANCE "furiwake_4" MASTER 150` (or GROUP for a sync
// group). The bytes come from another process through a file anyone with root can write to:
// every field is checked against its grammar, and anything else is a rejection, never a throw.

import type { HaRole } from './status.ts';

export interface NotifyEvent {
  kind: 'instance' | 'group';
  name: string;
  role: HaRole;
  /** the effective priority keepalived reports, 0..255 */
  priority: number;
}

export type NotifyParse = { ok: true; event: NotifyEvent } | { ok: false; reason: string };

/** keepalived's own lines are far shorter; a longer one is not from keepalived. */
export const MAX_NOTIFY_LINE = 256;
const MAX_NAME = 128;

/** keepalived's state words; STOP and DELETED (instance stopped or removed by a reload) mean it no longer runs */
const ROLES: Record<string, HaRole> = { MASTER: 'master', BACKUP: 'backup', FAULT: 'fault', STOP: 'stopped', DELETED: 'stopped' };

function reject(reason: string): NotifyParse {
  return { ok: false, reason };
}

export function parseNotifyLine(line: string): NotifyParse {
  if (line.length > MAX_NOTIFY_LINE) return reject(`a line of ${line.length} characters (at most ${MAX_NOTIFY_LINE})`);
  const firstSpace = line.indexOf(' ');
  if (firstSpace < 0) return reject('no fields');
  const type = line.slice(0, firstSpace);
  if (type !== 'INSTANCE' && type !== 'GROUP') return reject('neither an INSTANCE nor a GROUP line');
  if (line.charCodeAt(firstSpace + 1) !== 0x22) return reject('the name is not quoted');
  const nameEnd = line.indexOf('"', firstSpace + 2);
  if (nameEnd < 0) return reject('the name has no closing quote');
  const name = line.slice(firstSpace + 2, nameEnd);
  if (name.length === 0 || name.length > MAX_NAME) return reject(`a name of ${name.length} characters (1 to ${MAX_NAME})`);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return reject('the name holds a space or a character that is not printable ASCII');
  }
  if (line.charCodeAt(nameEnd + 1) !== 0x20) return reject('no state after the name');
  const rest = line.slice(nameEnd + 2).split(' ');
  if (rest.length !== 2) return reject('expected a state and a priority after the name');
  const role = Object.hasOwn(ROLES, rest[0]) ? ROLES[rest[0]] : undefined;
  if (role === undefined) return reject('an unknown state');
  const priority = rest[1];
  if (priority.length === 0 || priority.length > 3) return reject('the priority is not a number from 0 to 255');
  for (let i = 0; i < priority.length; i++) {
    const c = priority.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return reject('the priority is not a number from 0 to 255');
  }
  const value = Number(priority);
  if (value > 255 || (priority.length > 1 && priority.charCodeAt(0) === 0x30)) return reject('the priority is not a number from 0 to 255');
  return { ok: true, event: { kind: type === 'INSTANCE' ? 'instance' : 'group', name, role, priority: value } };
}

/** The line back, as keepalived writes it (for the round trip the fuzz test checks). */
export function formatNotifyLine(event: NotifyEvent): string {
  const state = Object.keys(ROLES).find((k) => ROLES[k] === event.role) ?? 'STOP';
  return `${event.kind === 'instance' ? 'INSTANCE' : 'GROUP'} "${event.name}" ${state} ${event.priority}`;
}
