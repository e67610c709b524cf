// What the app needs of a data plane's listener: bind, report its address, stop accepting.
import type { Logger } from '../log.ts';
import type { Endpoint } from '../runtime/connection-table.ts';
import { outOfDescriptors, type ResourceCounts } from '../runtime/resources.ts';
import type { Service } from '../runtime/service.ts';

export interface Listener {
  readonly service: Service;
  /** binds the service address; rejects with the bind error */
  listen(): Promise<void>;
  /** the bound address (the real port when the config says 0) */
  address(): Endpoint;
  /** stops accepting new clients; live connections keep flowing */
  close(): Promise<void>;
}

/** How a listener binds: given when it is made (not a config key). */
export interface ListenerOptions {
  /**
   * SO_REUSEPORT: several listeners of one service (one per worker thread) bind the same
   * address:port, and the kernel keeps each connection and each udp flow on one of them.
   * Default false: a second bind of the address fails (EADDRINUSE).
   */
  reusePort?: boolean;
}

/** The address to bind: the resolved IP of the configured host. */
export function bindHost(service: Service): string {
  return service.config.listen.ip ?? service.config.listen.host;
}

/**
 * The last resort of a data plane: a throw escaped the handling of one connection (a bug, which no
 * input should cause). Logged with its stack and counted; the caller ends that connection only.
 */
export function connectionFailed(log: Logger, resources: ResourceCounts, service: string, connection: number | undefined, err: unknown): void {
  resources.connectionsFailed++;
  log.error({ service, connection, err }, 'connection ended by an unexpected error');
}

/**
 * An accept failed. Out of descriptors: counted and logged now and then (a flood would write a
 * line per client); anything else is logged the same way. Never the process's end.
 */
export function acceptFailed(log: Logger, resources: ResourceCounts, service: string, err: Error): void {
  if (outOfDescriptors(err)) return resources.exhausted(log, service, 'accept', err);
  resources.limited(log, `accept:${service}`, { service, err }, 'accept failed');
}
