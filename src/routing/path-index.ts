// Which routes a path allows: exact paths by one map lookup, prefixes by walking a trie of their
// characters (the deepest prefix that ends on the path's way gives its set, which includes the
// shorter prefixes it extends), and the routes with no path list (those test a path-regex, if
// any, one by one). Paths are compared as the client sent them, without the query.

import { type Bits, copyBits, emptyBits, orInto, setBit } from './bits.ts';

interface Node {
  next: Map<number, Node> | null;
  /** the routes allowed by a path that reaches this node: set where a prefix ends */
  bits: Bits | null;
}

export class PathIndex {
  readonly #exact = new Map<string, Bits>();
  readonly #root: Node = { next: null, bits: null };
  readonly #any: Bits;
  readonly #prefixes: boolean;

  /** `paths[i]` and `prefixes[i]`: route i's exact paths and prefixes; both empty: any path. */
  constructor(paths: readonly (readonly string[])[], prefixes: readonly (readonly string[])[]) {
    const n = paths.length;
    const any = (this.#any = emptyBits(n));
    const own = new Map<string, Bits>();
    const pre = new Map<string, Bits>();
    for (let i = 0; i < n; i++) {
      if (paths[i].length === 0 && prefixes[i].length === 0) setBit(any, i);
      for (const p of paths[i]) add(own, p, i, n);
      for (const p of prefixes[i]) add(pre, p, i, n);
    }
    this.#prefixes = pre.size > 0;
    // shortest first, so a longer prefix's set takes in those of the shorter ones it extends
    for (const prefix of [...pre.keys()].sort((a, b) => a.length - b.length)) {
      const all = copyBits(pre.get(prefix)!);
      orInto(all, this.#deepest(prefix, prefix.length) ?? any);
      this.#node(prefix).bits = all;
    }
    for (const [path, bits] of own) {
      const all = copyBits(bits);
      orInto(all, this.#deepest(path, path.length) ?? any);
      this.#exact.set(path, all);
    }
  }

  /** The routes that `target[0..end)` (the path, without its query) allows. */
  lookup(target: string, end: number): Bits {
    if (this.#exact.size > 0) {
      const hit = this.#exact.get(end === target.length ? target : target.slice(0, end));
      if (hit !== undefined) return hit;
    }
    return (this.#prefixes ? this.#deepest(target, end) : null) ?? this.#any;
  }

  /** The set of the longest prefix of `s[0..end)` that ends a prefix; null for none. */
  #deepest(s: string, end: number): Bits | null {
    let node: Node | undefined = this.#root;
    let found: Bits | null = null;
    for (let i = 0; i < end; i++) {
      node = node.next?.get(s.charCodeAt(i));
      if (node === undefined) return found;
      if (node.bits !== null) found = node.bits;
    }
    return found;
  }

  #node(prefix: string): Node {
    let node = this.#root;
    for (let i = 0; i < prefix.length; i++) {
      const c = prefix.charCodeAt(i);
      const next: Map<number, Node> = (node.next ??= new Map());
      let child = next.get(c);
      if (child === undefined) next.set(c, (child = { next: null, bits: null }));
      node = child;
    }
    return node;
  }
}

function add(map: Map<string, Bits>, key: string, i: number, n: number): void {
  let bits = map.get(key);
  if (bits === undefined) map.set(key, (bits = emptyBits(n)));
  setBit(bits, i);
}
