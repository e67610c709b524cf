// What a reload changes, by name. A service whose listen address or mode changed needs a new
// socket; any other change to it is applied to the running listener. The runtime logs this on
// SIGHUP and uses the split to decide which listeners to rebind.

import { sameValue } from './same-value.ts';
import type { Config, ServiceConfig } from './types.ts';

export interface ConfigDiff {
  services: {
    added: string[];
    removed: string[];
    /** listen address or mode changed: the old listener closes and a new one binds */
    relisten: string[];
    /** same listener, other settings changed (pool, timeouts, retries, proxy-protocol, max-flows) */
    changed: string[];
  };
  pools: {
    added: string[];
    removed: string[];
    /** any setting or member changed */
    changed: string[];
  };
  global: boolean;
}

export function diffConfig(old: Config, next: Config): ConfigDiff {
  const services = diffByName(old.services, next.services);
  return {
    services: {
      added: services.added,
      removed: services.removed,
      relisten: services.changed.filter((name) => !sameListener(old.services[name], next.services[name])),
      changed: services.changed.filter((name) => sameListener(old.services[name], next.services[name])),
    },
    pools: diffByName(old.pools, next.pools),
    global: !sameValue(old.global, next.global),
  };
}

/** True when a reload would change nothing. */
export function isEmptyDiff(diff: ConfigDiff): boolean {
  const { services, pools } = diff;
  const lists = [services.added, services.removed, services.relisten, services.changed, pools.added, pools.removed, pools.changed];
  return !diff.global && lists.every((list) => list.length === 0);
}

function diffByName<T>(old: Readonly<Record<string, T>>, next: Readonly<Record<string, T>>) {
  const has = (record: Readonly<Record<string, T>>, name: string) => Object.hasOwn(record, name);
  return {
    added: Object.keys(next).filter((name) => !has(old, name)),
    removed: Object.keys(old).filter((name) => !has(next, name)),
    changed: Object.keys(next).filter((name) => has(old, name) && !sameValue(old[name], next[name])),
  };
}

/**
 * The socket is the same when it binds the same address (as resolved) and transport, and takes
 * its clients the same way: an http service that reads TLS or a PROXY header first accepts them
 * as net.Sockets, a plain one on the stream engine (http-listener.ts). A udp service that
 * balances RADIUS requests rather than flows keys its flow table otherwise.
 */
export function sameListener(a: ServiceConfig, b: ServiceConfig): boolean {
  return (
    a.mode === b.mode &&
    a.listen.port === b.listen.port &&
    (a.listen.ip ?? a.listen.host) === (b.listen.ip ?? b.listen.host) &&
    acceptsSockets(a) === acceptsSockets(b) &&
    // a udp listener's flow table is keyed by what it balances (udp-listener.ts)
    a.balancePer === b.balancePer
  );
}

/**
 * An http service whose clients come as net.Sockets: TLS wraps them, a PROXY header is read
 * first, or their first bytes say whether they speak HTTP/2 (h2c).
 */
export function acceptsSockets(config: ServiceConfig): boolean {
  return config.mode === 'http' && (config.http?.tls != null || config.acceptProxy || config.http?.http2.h2c === true);
}
