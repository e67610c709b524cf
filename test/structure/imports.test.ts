// The import graph of src/ keeps the shape DESIGN.md draws: each layer calls only inward, and no
// files import each other in a circle (a circle makes their load order matter and means two
// concepts are really one). Pure and fast: it reads the import lines of every source file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const SRC = join(import.meta.dirname, '..', '..', 'src');

/**
 * The layers, outermost first. A file may import from its own layer and from any below it, never
 * from one above. Names are src/'s folders (and top-level files without their .ts).
 */
const LAYERS: readonly (readonly string[])[] = [
  // reads arguments, starts the app, prints for humans: nothing imports it
  ['cli'],
  // wires the planes to one runtime; the demo's backends are started by the cli beside it
  ['app', 'demo'],
  // the control/data split (global.workers): the main thread's pool of worker threads and what
  // runs in each; it builds listeners and runtimes like app does, and app starts it
  ['workers'],
  // the planes: each reads the runtime and calls its commands. They may use each other's types
  // (kernel listeners are proxy Listeners; the admin plane shows health events); ha runs
  // keepalived and conntrackd and the replication link between the nodes of a pair
  ['admin', 'proxy', 'kernel', 'health', 'ha'],
  // the live model every plane reads: services, pools, members, dispatch, reload
  ['runtime'],
  // persistence methods are pure logic over their config section (cookie modes, hash sources);
  // the logger takes its level from the config; routing compiles an http service's routes and
  // answers which one takes a request (pure, no I/O), for the runtime to hold and http to ask
  ['persistence', 'log', 'routing'],
  // the file format and its normalized types, read by everything above; it takes the names of
  // the algorithms from balance/'s registry, so it sits above balance
  ['config'],
  // import nothing of furiwake: balancing algorithms (pure), IP addresses as text and bytes
  // (for every layer that meets a client's address), the version from package.json
  ['balance', 'ip-text', 'version'],
];

/**
 * Files that import each other in a circle today, in files another change is reworking: each
 * entry is one circle (its files sorted), to be removed once that change has merged.
 */
const ALLOWED_CYCLES: readonly string[] = [];

const rank = new Map<string, number>();
LAYERS.forEach((names, i) => {
  for (const name of names) rank.set(name, i);
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(SRC, path)] : [];
  });
}

/** `import … from './x.ts'`, `export … from`, `import './x.ts'` and `import('./x.ts')`, over several lines too. */
const IMPORT = /^\s*(?:import|export)\s(?:[^;'"]*?\sfrom\s*)?['"](\.[^'"]+)['"]|\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/gm;

/** Each file of src/ (relative to it) and the files of src/ it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((m) => normalize(join(dirname(file), m[1] ?? m[2])));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

function layerOf(file: string): string {
  const first = file.split('/')[0];
  return first.endsWith('.ts') ? first.slice(0, -3) : first;
}

const graph = importGraph();

test('the import lines are read: every target is a file of src/', () => {
  assert.ok(graph.size > 100, `only ${graph.size} files under ${SRC}`);
  for (const [file, targets] of graph) {
    for (const target of targets) assert.ok(graph.has(target), `${file} imports ${target}, which is not a .ts file of src/`);
  }
});

test('every folder of src/ has its place in the layer table', () => {
  const unknown = [...new Set([...graph.keys()].map(layerOf))].filter((layer) => !rank.has(layer));
  assert.deepEqual(unknown, [], 'add these to LAYERS, where their imports put them');
});

test('no file imports from a layer above its own', () => {
  const upward: string[] = [];
  for (const [file, targets] of graph) {
    for (const target of targets) {
      const from = rank.get(layerOf(file));
      const to = rank.get(layerOf(target));
      if (from !== undefined && to !== undefined && to < from) upward.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(upward, []);
});

test('no files import each other in a circle', () => {
  const cycles = stronglyConnected(graph)
    .filter((files) => files.length > 1 || (graph.get(files[0]) ?? []).includes(files[0]))
    .map((files) => files.sort().join(' <-> '));
  assert.deepEqual(cycles.filter((c) => !ALLOWED_CYCLES.includes(c)), []);
  // an allowed circle that is gone is an entry to delete
  assert.deepEqual(ALLOWED_CYCLES.filter((c) => !cycles.includes(c)), []);
});

/** Tarjan's algorithm: the groups of files that reach each other. */
function stronglyConnected(g: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      groups.push(group);
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return groups;
}
