// Sets of routes as bit sets, one bit per route in file order: a lookup by host or by path gives
// the routes it allows, two sets are ANDed, and the lowest bit left is the first route to try.
// Built once per config; a request only reads them.

export type Bits = Uint32Array;

export function emptyBits(routes: number): Bits {
  return new Uint32Array(Math.max(1, Math.ceil(routes / 32)));
}

export function setBit(bits: Bits, i: number): void {
  bits[i >>> 5] |= 1 << (i & 31);
}

/** `into` |= `from` */
export function orInto(into: Bits, from: Bits): void {
  for (let w = 0; w < into.length; w++) into[w] |= from[w];
}

export function copyBits(bits: Bits): Bits {
  return new Uint32Array(bits);
}

/** The index of the lowest bit set in `word` (not 0). */
export function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}
