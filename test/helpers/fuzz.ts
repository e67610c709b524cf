// Seeded, bounded fuzzing for parsers of outside bytes: the same inputs on every run (a failure
// names its seed and case number, so it can be replayed), counts sized for CI. The full tier
// (`npm test`, CI) runs `full` inputs per parser; FURIWAKE_TEST_TIER=fast runs a tenth of them.

/** How many inputs a fuzz test runs in this tier. */
export function fuzzCount(full: number): number {
  return process.env.FURIWAKE_TEST_TIER === 'fast' ? Math.max(1, Math.ceil(full / 10)) : full;
}

/** A small, fast, seeded PRNG (mulberry32): numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Fuzzer {
  readonly seed: number;
  readonly random: () => number;

  constructor(seed: number) {
    this.seed = seed;
    this.random = prng(seed);
  }

  int(below: number): number {
    return Math.floor(this.random() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /**
   * A mutation of `input`: one to four edits, each a bit flip, a random byte set, a byte
   * inserted or deleted, a run duplicated or cut, or a token from `dictionary` spliced in
   * (grammar words make mutations reach deeper than random bytes do).
   */
  mutate(input: Buffer, dictionary: readonly (string | Buffer)[] = []): Buffer {
    let buf = Buffer.from(input);
    const edits = 1 + this.int(4);
    for (let e = 0; e < edits; e++) {
      const at = buf.length === 0 ? 0 : this.int(buf.length);
      switch (this.int(dictionary.length > 0 ? 7 : 6)) {
        case 0:
          if (buf.length > 0) buf[at] ^= 1 << this.int(8);
          break;
        case 1:
          if (buf.length > 0) buf[at] = this.int(256);
          break;
        case 2:
          buf = Buffer.concat([buf.subarray(0, at), Buffer.of(this.pick(INTERESTING_BYTES)), buf.subarray(at)]);
          break;
        case 3:
          buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)]);
          break;
        case 4: {
          const len = 1 + this.int(16);
          buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at, at + len), buf.subarray(at)]);
          break;
        }
        case 5:
          buf = buf.subarray(0, at);
          break;
        default: {
          const token = this.pick(dictionary);
          buf = Buffer.concat([buf.subarray(0, at), typeof token === 'string' ? Buffer.from(token, 'latin1') : token, buf.subarray(at)]);
        }
      }
    }
    return buf;
  }
}

/** Bytes that tend to matter to text protocols: delimiters, controls, digits, the high half. */
const INTERESTING_BYTES = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x2c, 0x2d, 0x2b, 0x30, 0x39, 0x3a, 0x3b, 0x2e, 0x2f, 0x25, 0x5b, 0x5d, 0x7f, 0x80, 0xff, 0x41, 0x66];

/**
 * Runs `check` on `count` inputs from `generate`; a throw is re-thrown naming the seed, the case
 * and the input (hex), so the failure can be replayed.
 */
export function fuzz(seed: number, count: number, generate: (f: Fuzzer, i: number) => Buffer, check: (input: Buffer, i: number) => void): void {
  const f = new Fuzzer(seed);
  for (let i = 0; i < count; i++) {
    const input = generate(f, i);
    try {
      check(input, i);
    } catch (error) {
      const shown = input.length > 512 ? `${input.subarray(0, 512).toString('hex')}…` : input.toString('hex');
      throw new Error(`fuzz seed ${seed} case ${i}: ${(error as Error).message}\ninput (hex): ${shown}`, { cause: error });
    }
  }
}
