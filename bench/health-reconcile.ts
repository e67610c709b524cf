// The health manager's pass after a reload (HealthManager.reconcile), CPU in this process, for a
// config of 1,000 pools of 10 members without monitors: a reload that changes every pool (a weight
// in each), one that changes nothing, and one that changes one member's weight in one pool.
// Run: node bench/health-reconcile.ts [TREE]   (TREE: another checkout to compare, default this one)
const tree = process.argv[2] ?? new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const { Runtime } = await import(`${tree}/src/runtime/runtime.ts`);
const { HealthManager } = await import(`${tree}/src/health/manager.ts`);
const { createLogger } = await import(`${tree}/src/log.ts`);
const { parseConfig } = await import(`${tree}/src/config/load.ts`);
function config(reloaded: boolean, onePool: boolean): string {
  const lines = ['services:'];
  for (let i = 0; i < 1000; i++) lines.push(`  s${i}: { listen: 127.0.0.1:${20000 + i}, mode: tcp, pool: p${i} }`);
  lines.push('pools:');
  for (let i = 0; i < 1000; i++) {
    const m: string[] = [];
    for (let j = 0; j < 10; j++) {
      const k = i * 64 + j;
      m.push(`{ address: 127.${1 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}:8080, id: m${j}, weight: ${(reloaded && j === 0 ? 2 : 1) + (onePool && i === 1 && j === 0 ? 5 : 0)} }`);
    }
    lines.push(`  p${i}: { algorithm: weighted-least-connections, members: [ ${m.join(', ')} ] }`);
  }
  return lines.join('\n') + '\n';
}
// the start, every pool's weights changed, and that with one pool's weight changed again
const texts = [config(false, false), config(true, false), config(true, true)];
const parsed = texts.map((t) => parseConfig(t, 'x.yaml'));
const runtime = new Runtime();
const health = new HealthManager(runtime, createLogger('silent'));
const timed = (cfg: unknown): number => {
  // a config read anew each time, as a reload reads the file
  runtime.apply(structuredClone(cfg));
  const s = process.cpuUsage();
  health.reconcile();
  const u = process.cpuUsage(s);
  return (u.user + u.system) / 1000;
};
timed(parsed[0]);
const full: number[] = [], one: number[] = [];
const none: number[] = [];
for (let r = 0; r < 6; r++) {
  full.push(timed(parsed[r % 2 === 0 ? 1 : 0]));
  none.push(timed(parsed[r % 2 === 0 ? 1 : 0]));
}
for (let r = 0; r < 6; r++) {
  timed(parsed[1]);
  one.push(timed(parsed[2]));
}
const list = (ms: number[]): string => ms.map((x) => x.toFixed(1)).join(' ');
console.log(`${tree}\nreconcile after a reload, ms of CPU, six of each (the first ones with the JIT cold):`);
console.log(`  every pool changed:   ${list(full)}\n  nothing changed:      ${list(none)}\n  one pool changed:     ${list(one)}`);
health.close();
runtime.close();
