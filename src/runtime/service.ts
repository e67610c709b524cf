// A virtual service: the address clients reach (the VIP), its forwarding mode, and the pool
// behind it. The data plane that listens for it reads `config` and `pool` per connection, so
// a reload that swaps them applies to new connections without touching live ones.

import type { ServiceConfig } from '../config/types.ts';
import type { Pool } from './pool.ts';

export class Service {
  readonly name: string;
  config: ServiceConfig;
  pool: Pool;

  constructor(name: string, config: ServiceConfig, pool: Pool) {
    this.name = name;
    this.config = config;
    this.pool = pool;
  }

  /** The listener must be replaced (not just re-pointed) when these change. */
  sameListener(next: ServiceConfig): boolean {
    const a = this.config;
    return a.mode === next.mode && a.listen.port === next.listen.port &&
      (a.listen.ip ?? a.listen.host) === (next.listen.ip ?? next.listen.host);
  }
}
