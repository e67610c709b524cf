// From the ruleset in the kernel to the next one, in one `nft -f` transaction: the kernel
// applies all of it or none, so packets see the old rules or the new ones, never a moment
// without. The first transaction replaces whatever table a previous process left (the
// `table X {}; delete table X` idiom removes it whether or not it exists). Later ones keep the
// table and its sets — the persistence and dsr flow entries the packet path wrote — and replace
// every chain's rules; objects that are gone or changed are deleted, new ones added.

import { TABLE, type NftFamily, type NftObject, type Ruleset } from './render.ts';

/** What a transaction left in the kernel: per table, object bodies and chain hooks by name. */
export type Applied = Map<NftFamily, AppliedTable>;

export interface AppliedTable {
  /** `set p.www.0` -> the object and its body */
  objects: Map<string, { kind: NftObject['kind']; name: string; body: string }>;
  /** chain name -> its base (hook) statement, or null */
  chains: Map<string, string | null>;
}

const FAMILIES: readonly NftFamily[] = ['inet', 'netdev'];

export function transaction(previous: Applied | null, next: Ruleset): { script: string; applied: Applied } {
  const lines: string[] = [];
  if (previous === null) {
    for (const family of FAMILIES) lines.push(`table ${family} ${TABLE} {}`, `delete table ${family} ${TABLE}`);
  }
  const applied: Applied = new Map();
  for (const family of FAMILIES) {
    const before = previous?.get(family);
    const after = next.tables.find((t) => t.family === family);
    const t = `${family} ${TABLE}`;
    if (after === undefined) {
      if (before !== undefined) lines.push(`delete table ${t}`);
      continue;
    }
    const state: AppliedTable = { objects: new Map(), chains: new Map() };
    applied.set(family, state);
    for (const o of after.objects) state.objects.set(objectKey(o), { kind: o.kind, name: o.name, body: o.body.join('; ') });
    for (const c of after.chains) state.chains.set(c.name, c.base);

    if (before === undefined) lines.push(`add table ${t}`);
    // Every rule is replaced: flush the chains first so nothing refers to what goes next.
    for (const name of before?.chains.keys() ?? []) lines.push(`flush chain ${t} ${name}`);
    for (const [name, base] of before?.chains ?? []) {
      if (!state.chains.has(name) || state.chains.get(name) !== base) lines.push(`delete chain ${t} ${name}`);
    }
    const kept = new Set<string>();
    for (const [key, o] of before?.objects ?? []) {
      if (state.objects.get(key)?.body === o.body) kept.add(key);
      else lines.push(`delete ${o.kind} ${t} ${o.name}`);
    }
    for (const o of after.objects) {
      if (!kept.has(objectKey(o))) lines.push(`add ${o.kind} ${t} ${o.name} {`, ...o.body.map((b) => `  ${b}`), '}');
    }
    for (const c of after.chains) {
      if (before?.chains.has(c.name) === true && before.chains.get(c.name) === c.base) continue;
      lines.push(c.base === null ? `add chain ${t} ${c.name}` : `add chain ${t} ${c.name} { ${c.base} }`);
    }
    for (const c of after.chains) for (const rule of c.rules) lines.push(`add rule ${t} ${c.name} ${rule}`);
    // Entries of members that no longer serve; a set made in this transaction is empty anyway.
    for (const f of next.flush) {
      if (f.family === family && kept.has(`set ${f.set}`)) lines.push(`flush set ${t} ${f.set}`);
    }
  }
  return { script: lines.join('\n') + '\n', applied };
}

/** The script that removes our tables, and only them, whether or not they exist. */
export function removal(): string {
  return FAMILIES.map((family) => `table ${family} ${TABLE} {}\ndelete table ${family} ${TABLE}\n`).join('');
}

function objectKey(o: NftObject): string {
  return `${o.kind} ${o.name}`;
}
