// What the app needs of a data plane's listener: bind, report its address, stop accepting.
import type { Endpoint } from '../runtime/connection-table.ts';
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

/** The address to bind: the resolved IP of the configured host. */
export function bindHost(service: Service): string {
  return service.config.listen.ip ?? service.config.listen.host;
}
