// A nat or dsr service, as the app sees a listener: "listening" means its rules are in the
// kernel. There is no socket: the kernel forwards the VIP's packets itself.

import type { Listener } from '../proxy/listener.ts';
import type { Endpoint } from '../runtime/connection-table.ts';
import type { Service } from '../runtime/service.ts';
import type { KernelPlane } from './plane.ts';

export class KernelListener implements Listener {
  readonly service: Service;
  readonly #plane: KernelPlane;

  constructor(service: Service, plane: KernelPlane) {
    this.service = service;
    this.#plane = plane;
  }

  listen(): Promise<void> {
    return this.#plane.add(this.service);
  }

  address(): Endpoint {
    const listen = this.service.config.listen;
    return { address: listen.ip ?? listen.host, port: listen.port };
  }

  /** Takes the service's rules out; connections conntrack already holds keep flowing. */
  close(): Promise<void> {
    return this.#plane.remove(this.service);
  }
}
