// Reading the entries the packet path wrote into our dynamic sets (persistence keys, dsr flows)
// with `nft -j list set`. The JSON of nftables 1.0.x: {"nftables": [{metainfo}, {"set": {...,
// "elem": [{"elem": {"val": V, "expires": S}}, ...]}}]}, where V is an address, or
// {"concat": [address, port]} for a concatenated key; a set without entries has no "elem".

import { exec } from './exec.ts';
import { TABLE, type NftFamily } from './render.ts';

export interface SetElement {
  /** the key: an address, or the parts of a concatenation */
  key: (string | number)[];
  /** seconds until the entry expires */
  expires: number;
}

export function parseSetElements(json: string): SetElement[] {
  return [...parseSets(json).values()].flat();
}

/** Each set of a listing (of one set, or of a whole table), by name, with its entries. */
export function parseSets(json: string): Map<string, SetElement[]> {
  const doc = JSON.parse(json) as { nftables?: unknown[] };
  const sets = new Map<string, SetElement[]>();
  for (const item of doc.nftables ?? []) {
    const set = (item as { set?: { name?: unknown; elem?: unknown[] } }).set;
    if (set === undefined) continue;
    const name = String(set.name ?? '');
    let out = sets.get(name);
    if (out === undefined) sets.set(name, (out = []));
    for (const e of set.elem ?? []) {
      // An element with a timeout is {"elem": {...}}; a plain one is just its value.
      const inner = (e as { elem?: { val: unknown; expires?: number } }).elem;
      const value = inner === undefined ? e : inner.val;
      const key = keyOf(value);
      if (key !== null) out.push({ key, expires: inner?.expires ?? 0 });
    }
  }
  return sets;
}

function keyOf(value: unknown): (string | number)[] | null {
  if (typeof value === 'string' || typeof value === 'number') return [value];
  const concat = (value as { concat?: unknown[] } | null)?.concat;
  if (Array.isArray(concat) && concat.every((p) => typeof p === 'string' || typeof p === 'number')) return concat as (string | number)[];
  return null;
}

export async function listSet(nft: string, family: NftFamily, set: string): Promise<SetElement[]> {
  const { stdout } = await exec(nft, ['-j', 'list', 'set', family, TABLE, set]);
  return parseSetElements(stdout);
}

/** Every set of our table in `family`, with its entries: one nft call for all of them. */
export async function listSets(nft: string, family: NftFamily): Promise<Map<string, SetElement[]>> {
  const { stdout } = await exec(nft, ['-j', 'list', 'table', family, TABLE]);
  return parseSets(stdout);
}
