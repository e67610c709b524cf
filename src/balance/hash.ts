// 32-bit hashing for client keys and member ids. The tables index with `hash % size`, so every
// bit of the result must depend on every bit of the input: FNV-1a is fast on short strings but
// mixes its last characters weakly, so its result goes through murmur3's finalizer.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const GOLDEN = 0x9e3779b9;

/** A well-mixed unsigned 32-bit hash of a string (FNV-1a over UTF-16 units, then mix32). */
export function hashString(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return mix32(h);
}

/** murmur3's fmix32: a bijection on 32-bit values with full avalanche. Returns unsigned. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The hash for the attempt-th retry of a key: deterministic, and independent of the others. */
export function rehash(hash: number, attempt: number): number {
  return mix32(hash ^ Math.imul(attempt, GOLDEN));
}
