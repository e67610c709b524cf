// A table of what a udp service that balances single messages remembers (RADIUS requests and
// States, SIP dialogs): bounded by the service's max-flows as it is now (a reload that changes it
// is followed at the next insert), and each entry forgotten `ttl` ms after it was set (or, with
// `touch`, last read). Insertion order is age order: when full, the oldest entry gives way.

export class ExpiringTable<V> {
  readonly #entries = new Map<string, { value: V; until: number }>();
  readonly #ttl: number;
  readonly #max: () => number;
  /** a read renews the entry (it moves to the recent end, its ttl starts again) */
  readonly #touch: boolean;

  constructor(ttl: number, max: () => number, touch = false) {
    this.#ttl = ttl;
    this.#max = max;
    this.#touch = touch;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    if (this.#touch) {
      entry.until = now + this.#ttl;
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry.value;
  }

  set(key: string, value: V, now = Date.now()): void {
    const entries = this.#entries;
    entries.delete(key);
    const max = Math.max(1, this.#max());
    while (entries.size >= max) {
      const oldest = entries.keys().next().value;
      if (oldest === undefined) break;
      entries.delete(oldest);
    }
    entries.set(key, { value, until: now + this.#ttl });
  }
}
