// Snapshots for the renderer (view.ts): of a live service and its members' states (plane.ts),
// or of a config with every member taken as up (validation checks that ruleset with nft -c).

import { isIPv6 } from 'node:net';
import type { AlgorithmName, Config, ServiceConfig } from '../config/types.ts';
import { methodOf } from '../persistence/methods.ts';
import { kernelAlgorithm } from './algorithms.ts';
import type { KernelMemberView, KernelServiceView } from './view.ts';

export function serviceView(name: string, sc: ServiceConfig, algorithm: AlgorithmName, members: KernelMemberView[]): KernelServiceView {
  const kernel = sc.kernel;
  if (kernel === null) throw new Error(`service ${name} is ${sc.mode}, not nat or dsr`);
  const vip = sc.listen.ip ?? sc.listen.host;
  const family = isIPv6(vip) ? 'ip6' : 'ip';
  const p = sc.persistence;
  return {
    name,
    mode: sc.mode === 'dsr' ? 'dsr' : 'nat',
    protocol: kernel.protocol,
    family,
    vip,
    port: sc.listen.port,
    method: kernelAlgorithm(algorithm).method,
    members,
    persistence: p === null ? null : (methodOf(p).kernel?.(p, family) ?? null),
    sourceNat: kernel.sourceNat,
    interface: kernel.interface,
    idle: sc.timeouts.idle,
    flowSize: sc.maxFlows,
    flushOnDown: kernel.flushOnDown,
    accepting: true,
  };
}

/** The kernel services of a config, every member up and at its configured weight. */
export function configViews(config: Config): KernelServiceView[] {
  const views: KernelServiceView[] = [];
  for (const [name, sc] of Object.entries(config.services)) {
    const pool = config.pools[sc.pool];
    if (sc.kernel == null || pool === undefined) continue;
    const members = pool.members.map((m, number): KernelMemberView => ({
      number,
      id: m.id,
      ip: m.address.ip ?? m.address.host,
      port: m.address.port,
      weight: m.weight,
      backup: m.backup,
      usable: true,
      serves: true,
    }));
    views.push(serviceView(name, sc, pool.algorithm, members));
  }
  return views;
}
