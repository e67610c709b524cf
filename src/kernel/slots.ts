// The selection table of a kernel service: which member each slot of `numgen ... mod N` or
// `jhash ... mod N` leads to. Pure: members in, slots out. Only usable members get new
// connections; backups only when no primary is usable.
//
// The hashing methods build their table over every member of the tier, usable or not, and then
// hand a down member's slots to usable ones: keys of the members that stay up keep their member
// (as balance/lookup-table.ts does in user space), and they come back when it returns.

import { mix32 } from '../balance/hash.ts';
import { buildTable } from '../balance/maglev.ts';
import { buildSlots } from '../balance/source-hash.ts';
import type { KernelMethod } from './algorithms.ts';

/** Most slots of a counter or random table; weights are scaled down to fit. */
export const MAX_SLOTS = 1024;
/** The kernel's maglev table: prime, small enough to render, ~100 entries per member of a 10-member pool. */
export const KERNEL_MAGLEV_SIZE = 1021;
/** A source-hash table is repeated up to this size so that a down member's keys spread. */
const MIN_HASH_SLOTS = 64;

export interface SlotMember {
  readonly id: string;
  /** effective weight (may be fractional: agent percent, slow start) */
  readonly weight: number;
  readonly usable: boolean;
  readonly backup: boolean;
}

/** The member (an index into `members`) behind each slot; empty when no member is usable. */
export function selectionSlots(method: KernelMethod, members: readonly SlotMember[]): number[] {
  const indexed = members.map((m, index) => ({ m, index }));
  const primaries = indexed.filter(({ m }) => !m.backup);
  const backups = indexed.filter(({ m }) => m.backup);
  const weighted = method !== 'round-robin';
  const takes = ({ m }: { m: SlotMember }): boolean => m.usable && (!weighted || m.weight > 0);
  const tier = primaries.some(takes) ? primaries : backups;
  const usable = tier.filter(takes);
  if (usable.length === 0) return [];

  switch (method) {
    case 'round-robin':
      return usable.map(({ index }) => index);
    case 'weighted':
      return smoothSequence(usable.map(({ index }) => index), integerWeights(usable.map(({ m }) => m.weight)));
    case 'random':
      return runs(usable.map(({ index }) => index), integerWeights(usable.map(({ m }) => m.weight)));
    case 'source-hash':
    case 'maglev': {
      const all = tier.filter(({ m }) => m.weight > 0);
      const candidates = all.map(({ m }) => ({ id: m.id, weight: m.weight, active: 0, latency: 0, usable: true }));
      const table = method === 'maglev'
        ? Array.from(buildTable(candidates, KERNEL_MAGLEV_SIZE))
        : repeat(Array.from(buildSlots(candidates)), MIN_HASH_SLOTS);
      return reassign(table.map((i) => all[i].index), (index) => takes({ m: members[index] }));
    }
    default: {
      const unknown: never = method;
      throw new Error(`unknown kernel method: ${String(unknown)}`);
    }
  }
}

/**
 * Whole-number weights in the same proportions, totalling `maxTotal` at most (about, after
 * rounding): whole weights as they are, fractional ones (agent percent, slow start) scaled up;
 * then rounded (a positive weight keeps at least 1) and divided by their gcd.
 */
export function integerWeights(weights: readonly number[], maxTotal = MAX_SLOTS): number[] {
  const total = weights.reduce((sum, w) => sum + Math.max(0, w), 0);
  if (total === 0) return weights.map(() => 0);
  const whole = weights.every((w) => Number.isInteger(w));
  const scale = whole && total <= maxTotal ? 1 : maxTotal / total;
  const scaled = weights.map((w) => (w > 0 ? Math.max(1, Math.round(w * scale)) : 0));
  const divisor = scaled.reduce(gcd, 0) || 1;
  return scaled.map((w) => w / divisor);
}

/** nginx's smooth weighted round-robin, run for one full cycle: 5,1,1 -> a a b a c a a. */
function smoothSequence(items: readonly number[], weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const current = new Array<number>(items.length).fill(0);
  const sequence: number[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let i = 0; i < items.length; i++) {
      current[i] += weights[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    sequence.push(items[best]);
  }
  return sequence;
}

/** Each item `weight` times in a row: for a uniform random index only the run lengths matter. */
function runs(items: readonly number[], weights: readonly number[]): number[] {
  return items.flatMap((item, i) => new Array<number>(weights[i]).fill(item));
}

function repeat(table: readonly number[], atLeast: number): number[] {
  if (table.length === 0) return [];
  const out = table.slice();
  while (out.length < atLeast) out.push(...table);
  return out;
}

/** Slots of members that cannot take new connections go to the usable slots, spread by a hash. */
function reassign(table: readonly number[], takes: (index: number) => boolean): number[] {
  const usableSlots = table.filter(takes);
  if (usableSlots.length === 0) return [];
  return table.map((index, slot) => (takes(index) ? index : usableSlots[mix32(slot) % usableSlots.length]));
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
