import { routesOf } from '../config/routes-types.ts';
import { adminWarnings } from '../config/admin-schema.ts';
import { haNotes } from '../config/ha-checks.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { describeRoute } from '../config/routes-text.ts';
import { haPreflight } from '../ha/preflight.ts';
import { rawSocketProblem } from '../health/monitors/proto-icmp-socket.ts';
import { kernelReport } from '../kernel/requirements.ts';
import { clippedFlows, fdBudget, readFileLimit } from '../runtime/fd-budget.ts';
import { workerCount } from '../workers/worker-threads.ts';

function usesIcmp(config: Config): boolean {
  return Object.values(config.pools).some((p) => p.health.monitors.some((m) => m.type === 'icmp') ||
    p.members.some((m) => m.health?.monitors?.some((mon) => mon.type === 'icmp') === true));
}

export async function runValidate(file: string): Promise<number> {
  try {
    const config = await loadConfig(file);
    for (const warning of adminWarnings(config.admin)) process.stderr.write(`${file}: warning: ${warning}\n`);
    // nat and dsr services run in the kernel: say what this host lacks for them, and what runs differently
    const kernel = await kernelReport(config);
    for (const warning of kernel.warnings) process.stderr.write(`${file}: warning: ${warning}\n`);
    for (const error of kernel.errors) process.stderr.write(`${file}: cannot run here: ${error}\n`);
    // an ha pair runs keepalived (and conntrackd): say what this host lacks for them
    const ha = haPreflight(config);
    for (const warning of [...ha.warnings, ...haNotes(config)]) process.stderr.write(`${file}: warning: ${warning}\n`);
    for (const error of ha.errors) process.stderr.write(`${file}: cannot run here: ${error}\n`);
    // the icmp monitor needs a native module that an installed package may lack
    const icmp = usesIcmp(config) ? rawSocketProblem() : null;
    if (icmp !== null) process.stderr.write(`${file}: cannot run here: ${icmp}\n`);
    if (kernel.errors.length > 0 || ha.errors.length > 0 || icmp !== null) return 1;
    // start raises the soft descriptor limit to the hard one: the budget is the hard limit's
    const limit = readFileLimit();
    if (limit !== null) for (const line of clippedFlows(config, fdBudget(limit.hard, config, workerCount(config.global.workers)))) process.stderr.write(`${file}: warning: ${line}\n`);
    const services = Object.keys(config.services).length;
    const pools = Object.keys(config.pools).length;
    process.stdout.write(`${file}: valid (${services} service${services === 1 ? '' : 's'}, ${pools} pool${pools === 1 ? '' : 's'})\n`);
    // the routes as furiwake reads them, in the order they are tried
    for (const [name, service] of Object.entries(config.services)) {
      const routes = routesOf(service);
      if (routes.length === 0) continue;
      process.stdout.write(`services.${name} routes (first match wins; any other ${service.mode === 'tcp' ? 'connection' : 'request'} goes to pool ${service.pool}):\n`);
      for (const route of routes) process.stdout.write(`  ${describeRoute(route, service.mode === 'tcp')}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.format() + '\n');
      return 1;
    }
    process.stderr.write(`${file}: ${(err as Error).message}\n`);
    return 1;
  }
}
