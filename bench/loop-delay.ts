// A preload for the benches (`node --import ./bench/loop-delay.ts ...`): every second, one line
// of the process's event-loop delay in that second (max, p99, mean in ms, from
// perf_hooks.monitorEventLoopDelay at 1 ms resolution), its loop utilization and its CPU time,
// appended to the file named by FURIWAKE_LOOP_DELAY. A stall of the loop shows as a max far
// above the resolution; a second where the loop was busy but its CPU low shows the core was
// taken by someone else. Not loaded by furiwake itself.

import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const file = process.env.FURIWAKE_LOOP_DELAY;
if (file !== undefined && file !== '') {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const began = performance.now();
  let utilization = performance.eventLoopUtilization();
  let cpu = process.cpuUsage();
  appendFileSync(file, 'time second max_ms p99_ms mean_ms elu user_ms sys_ms\n');
  setInterval(() => {
    const now = process.cpuUsage();
    const elu = performance.eventLoopUtilization(utilization);
    utilization = performance.eventLoopUtilization();
    const ms = (ns: number): string => (ns / 1e6).toFixed(2);
    appendFileSync(file, `${new Date().toISOString().slice(11, 23)} ${((performance.now() - began) / 1000).toFixed(1)} ${ms(histogram.max)} ${ms(histogram.percentile(99))} ${ms(histogram.mean)} ` +
      `${elu.utilization.toFixed(3)} ${((now.user - cpu.user) / 1000).toFixed(0)} ${((now.system - cpu.system) / 1000).toFixed(0)}\n`);
    cpu = now;
    histogram.reset();
  }, 1000).unref();
}
