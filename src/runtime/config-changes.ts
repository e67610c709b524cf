// What applying a config did, in the words of the log and of the admin API's reload answer: at
// start what runs, on a reload what was added, removed or changed (down to a pool's members).

import { isDeepStrictEqual } from 'node:util';
import { diffConfig, type ConfigDiff } from '../config/diff.ts';
import type { HaConfig } from '../config/ha-types.ts';
import type { AccessLogConfig, LogsConfig } from '../config/logs-types.ts';
import type { Config, PoolConfig } from '../config/types.ts';
import { sameValue } from '../config/same-value.ts';

/** At start: "2 services (web, shop), 2 pools (web: 3 members, shop: 3 members)". */
export function describeStart(config: Config): string {
  const services = Object.keys(config.services);
  const pools = Object.entries(config.pools).map(([name, pool]) => `${name}: ${count(pool.members.length, 'member')}`);
  return `${count(services.length, 'service')} (${services.join(', ')}), ${count(pools.length, 'pool')} (${pools.join(', ')})`;
}

/** What a reload changes, one line each; empty when nothing changed. */
export function describeChanges(before: Config, after: Config, d: ConfigDiff = diffConfig(before, after)): string[] {
  const lines = [
    ...d.services.added.map((n) => `service ${n} added`),
    ...d.services.removed.map((n) => `service ${n} removed`),
    ...d.services.relisten.map((n) => `service ${n} moved to a new listener`),
    ...d.services.changed.map((n) => `service ${n} changed`),
    ...d.pools.added.map((n) => `pool ${n} added`),
    ...d.pools.removed.map((n) => `pool ${n} removed`),
    ...d.pools.changed.map((n) => `pool ${n} changed${poolDetail(before.pools[n], after.pools[n])}`),
  ];
  if (d.global) lines.push('global changed');
  if (!isDeepStrictEqual(before.admin ?? null, after.admin ?? null)) lines.push('admin changed');
  const logs = logsChange(before.logs, after.logs);
  if (logs !== null) lines.push(logs);
  const ha = haChange(before.ha, after.ha);
  if (ha !== null) lines.push(ha);
  return lines;
}

/** The ha keys by their names in the file; `vrrp` follows interface and router-id. */
const HA_KEYS: Record<Exclude<keyof HaConfig, 'vrrp'>, string> = {
  interface: 'interface', routerId: 'router-id', priority: 'priority', advert: 'advert', preempt: 'preempt',
  peers: 'peers', vips: 'vips', sync: 'sync', conntrackSync: 'conntrack-sync',
};

/** "ha changed: priority, peers" (the keys, never a value: sync holds the key), "ha added", "ha removed"; null when the same. */
function haChange(before: HaConfig | undefined, after: HaConfig | undefined): string | null {
  if (before === undefined) return after === undefined ? null : 'ha added';
  if (after === undefined) return 'ha removed';
  const keys = (Object.keys(HA_KEYS) as (keyof typeof HA_KEYS)[]).filter((k) => !isDeepStrictEqual(before[k], after[k]));
  return keys.length === 0 ? null : `ha changed: ${keys.map((k) => HA_KEYS[k]).join(', ')}`;
}

/**
 * "logs changed: access format, access destination, syslog": what changed in the logs section, in
 * the manual's words (docs/logging.md); "logs added", "logs removed"; null when the same.
 */
function logsChange(before: LogsConfig | undefined, after: LogsConfig | undefined): string | null {
  if (before === undefined) return after === undefined ? null : 'logs added';
  if (after === undefined) return 'logs removed';
  const parts: string[] = [];
  const a = before.access;
  const b = after.access;
  if (a === null || b === null) {
    if (a !== b) parts.push(a === null ? 'access log added' : 'access log removed');
  } else {
    parts.push(...accessChanges(a, b));
  }
  if (!isDeepStrictEqual(before.process.to, after.process.to)) parts.push('process destination');
  if (!isDeepStrictEqual(before.syslog, after.syslog)) {
    parts.push(before.syslog === null ? 'syslog added' : after.syslog === null ? 'syslog removed' : 'syslog');
  }
  return parts.length === 0 ? null : `logs changed: ${parts.join(', ')}`;
}

/** The access log's format (a new format makes its fields or line moot), its fields or line, its destination. */
function accessChanges(a: AccessLogConfig, b: AccessLogConfig): string[] {
  const parts: string[] = [];
  if (a.format !== b.format) parts.push('access format');
  else if (a.format === 'json' && !isDeepStrictEqual(a.fields, b.fields)) parts.push('access fields');
  else if (a.format === 'line' && !isDeepStrictEqual(a.template, b.template)) parts.push('access line');
  if (!isDeepStrictEqual(a.to, b.to)) parts.push('access destination');
  return parts;
}

/** ": member s4 added, members s1, s2 changed, settings changed": its members by id, and whether the pool's own settings changed. */
function poolDetail(before: PoolConfig, after: PoolConfig): string {
  const old = new Map(before.members.map((m) => [m.id, m]));
  const next = new Map(after.members.map((m) => [m.id, m]));
  const added = [...next.keys()].filter((id) => !old.has(id));
  const removed = [...old.keys()].filter((id) => !next.has(id));
  const changed = [...next.keys()].filter((id) => old.has(id) && !sameValue(old.get(id), next.get(id)));
  const parts: string[] = [];
  if (added.length > 0) parts.push(`${added.length === 1 ? 'member' : 'members'} ${added.join(', ')} added`);
  if (removed.length > 0) parts.push(`${removed.length === 1 ? 'member' : 'members'} ${removed.join(', ')} removed`);
  if (changed.length > 0) parts.push(`${changed.length === 1 ? 'member' : 'members'} ${changed.join(', ')} changed`);
  const { members: _a, ...ownBefore } = before;
  const { members: _b, ...ownAfter } = after;
  if (!sameValue(ownBefore, ownAfter)) parts.push('settings changed');
  return parts.length > 0 ? `: ${parts.join(', ')}` : '';
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
