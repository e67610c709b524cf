// Memory per stick-table entry, for each kind of key stateful persistence keeps, and the time of
// a lookup. Run: npx node --expose-gc bench/stick-table-memory.ts   (or npm run bench:stick-table)
//
// For each key kind a table of 100,000 entries is built and filled; the heap after a full GC,
// minus the heap before the table existed, divided by the entries, is the cost of one entry at
// a full table: the key string the table holds, lru-cache's Map slot, and its share of the
// per-slot arrays that lru-cache reserves for max-entries up front (measured on its own too).

import { StickTable } from '../src/persistence/stick-table.ts';
import { sourceKey } from '../src/persistence/source-ip.ts';
import { sessionIdKey, ticketKey } from '../src/persistence/tls-session.ts';

// entries per table: `node --expose-gc bench/stick-table-memory.ts 1000000` for a table of a million
const ENTRIES = Number(process.argv[2] ?? 100_000);
const MEMBERS = ['web-1', 'web-2', 'web-3', 'web-4'];

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with --expose-gc: npx node --expose-gc bench/stick-table-memory.ts');
  process.exit(1);
}

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

/** Keys as the data planes make them: each one a fresh string the table keeps. */
const KINDS: [string, (i: number) => string][] = [
  ['source-ip, IPv4 /32 ("10.1.134.160")', (i) => sourceKey(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, { mask: 32, mask6: 128 })!],
  ['source-ip, IPv4 /24 ("10.1.134.0/24")', (i) => sourceKey(`${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.9`, { mask: 24, mask6: 128 })!],
  ['source-ip, IPv6 /64 ("2001:db8:0:86a0::/64")', (i) => sourceKey(`2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`, { mask: 32, mask6: 64 })!],
  ['tls-session, session ID ("id:" + 64 hex)', (i) => sessionIdKey(idBytes(i))],
  ['tls-session, ticket ("ticket:" + 32 hex)', (i) => ticketKey(idBytes(i))],
];

function idBytes(i: number): Buffer {
  const b = Buffer.alloc(32, 0x5a);
  b.writeUInt32BE(i, 0);
  return b;
}

const keep: unknown[] = [];

function reservedPerSlot(): number {
  const before = heapUsed();
  const table = new StickTable({ maxEntries: ENTRIES, timeout: 60_000 });
  keep.push(table);
  const bytes = heapUsed() - before;
  keep.pop();
  return bytes / ENTRIES;
}

function perEntry(key: (i: number) => string): { bytes: number; sample: string } {
  const before = heapUsed();
  const table = new StickTable({ maxEntries: ENTRIES, timeout: 60_000 });
  for (let i = 0; i < ENTRIES; i++) table.set(key(i), MEMBERS[i & 3]);
  keep.push(table);
  const bytes = (heapUsed() - before) / ENTRIES;
  if (table.size !== ENTRIES) throw new Error(`expected ${ENTRIES} entries, got ${table.size}`);
  keep.pop();
  return { bytes, sample: key(100_000 + 7) };
}

/** CPU ns of `run(rounds)`, the best of 3 (other processes on a shared machine do not count). */
function cpuNs(rounds: number, run: (rounds: number) => void): number {
  run(200_000);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const start = process.cpuUsage();
    run(rounds);
    const used = process.cpuUsage(start);
    best = Math.min(best, ((used.user + used.system) * 1000) / rounds);
  }
  return best;
}

/**
 * ns per lookup of a known key (a hit, which also refreshes the entry) in a full table of
 * source-ip /32 keys; and per connection's lookup as a data plane makes it: the key from the
 * client's address, then the lookup.
 */
function lookupNs(): { lookup: number; keyed: number } {
  const table = new StickTable({ maxEntries: ENTRIES, timeout: 60_000 });
  const masks = { mask: 32, mask6: 128 };
  const addresses = Array.from({ length: ENTRIES }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  const keys = addresses.map((a) => sourceKey(a, masks)!);
  keys.forEach((k, i) => table.set(k, MEMBERS[i & 3]));
  let found = 0;
  const lookup = cpuNs(1_000_000, (rounds) => {
    for (let i = 0; i < rounds; i++) if (table.get(keys[(i * 7919) % ENTRIES]) !== undefined) found++;
  });
  const keyed = cpuNs(1_000_000, (rounds) => {
    for (let i = 0; i < rounds; i++) if (table.get(sourceKey(addresses[(i * 7919) % ENTRIES], masks)!) !== undefined) found++;
  });
  if (found === 0) throw new Error('no hits');
  return { lookup, keyed };
}

console.log(`stick table memory, ${ENTRIES.toLocaleString('en')} entries, Node ${process.version}`);
console.log(`reserved up front by an empty table (lru-cache's per-slot arrays): ${reservedPerSlot().toFixed(0)} bytes per max-entries slot`);
console.log('');
console.log('| key | example | bytes per entry (full table) |');
console.log('| --- | --- | --- |');
for (const [name, key] of KINDS) {
  const { bytes, sample } = perEntry(key);
  console.log(`| ${name} | \`${sample}\` | ${bytes.toFixed(0)} |`);
}
/** ns to make a source-ip key from a client address (IPv4, /24), as each new connection does. */
function sourceKeyNs(): number {
  const addresses = Array.from({ length: 4096 }, (_, i) => `192.168.${i >> 8}.${i & 255}`);
  let length = 0;
  for (let i = 0; i < 100_000; i++) length += sourceKey(addresses[i & 4095], { mask: 24, mask6: 64 })!.length;
  const ns = cpuNs(500_000, (rounds) => {
    for (let i = 0; i < rounds; i++) length += sourceKey(addresses[i & 4095], { mask: 24, mask6: 64 })!.length;
  });
  if (length === 0) throw new Error('no keys');
  return ns;
}

console.log('');
const { lookup, keyed } = lookupNs();
const perSecond = (ns: number): string => `${Math.round(1e9 / ns / 1000).toLocaleString('en')}k/s`;
console.log(`lookup (hit, refreshing the entry) in a full table: ${lookup.toFixed(0)} ns CPU (${perSecond(lookup)} on one core)`);
console.log(`source-ip key from the address + lookup: ${keyed.toFixed(0)} ns CPU (${perSecond(keyed)})`);
console.log(`source-ip key from an IPv4 address, mask 24: ${sourceKeyNs().toFixed(0)} ns CPU`);
