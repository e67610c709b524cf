// How `furiwake ctl` prints: aligned tables of plain text (numbers to the right), durations
// and byte counts in short human units, endpoints as host:port.

import { hostPort } from '../config/address.ts';

export type Cell = string | number;

/** Columns whose header starts with `>` are right-aligned (the `>` is not printed). */
export function table(headers: string[], rows: Cell[][]): string {
  const right = headers.map((h) => h.startsWith('>'));
  const names = headers.map((h) => h.replace(/^>/, ''));
  const text = rows.map((r) => r.map(String));
  const widths = names.map((h, i) => Math.max(h.length, ...text.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(names), ...text.map(line)].join('\n') + '\n';
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  const units = ['K', 'M', 'G', 'T'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)}${units[i]}`;
}

/** The datagrams a udp service dropped, total and by reason; '-' for a service that drops none itself (not udp, or kernel-forwarded). */
export function dropped(d: { malformed: number; unmatched: number; noMember: number; denied?: number } | null): string {
  if (d === null) return '-';
  const denied = d.denied ?? 0;
  const total = d.malformed + d.unmatched + d.noMember + denied;
  if (total === 0) return '0';
  return `${total} (${d.malformed} malformed, ${d.unmatched} unmatched, ${d.noMember} no member${denied > 0 ? `, ${denied} denied` : ''})`;
}

export function endpoint(e: { address: string; port: number } | null): string {
  if (e === null) return '-';
  return hostPort(e.address, e.port);
}
