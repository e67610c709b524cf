// The normalized `admin` section: where the management plane listens and what guards it.
// admin-schema.ts parses the file's section into it; admin/ reads it.

import type { Address } from './address.ts';

export interface AdminConfig {
  listen: Address;
  /** bearer token for writes (and reads when readTokenRequired); null = none */
  token: string | null;
  /** default: true when the listener is not loopback-only */
  readTokenRequired: boolean;
  /** connections open at once, in all and from one client address */
  maxConnections: number;
  maxConnectionsPerClient: number;
}
