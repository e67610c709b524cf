// GET /api/v1/ha: what this node of an active/standby pair says about itself. Its `sync` part is
// the replication link (ha.sync): each peer's link, and the operator changes known, with who
// set each one and when (last writer wins between the nodes).

import { z } from 'zod';
import type { ApiContext } from './host.ts';
import { route, type Route } from './router.ts';
import { emptyQuerySchema } from './schemas.ts';

const syncPeerSchema = z.object({
  peer: z.string().describe('the peer\'s sync address as configured (or the name a peer that connected here gave)'),
  connected: z.boolean().describe('the link this node opened to the peer is up and authenticated'),
  lastSync: z.number().nullable().describe('ms since epoch of the last full resynchronisation either way; null: never'),
  sent: z.number().describe('stick entries and operator changes sent to the peer'),
  received: z.number().describe('stick entries and operator changes received from the peer and applied'),
  authFailures: z.number().describe('links dropped because the other end did not prove the key (or broke the protocol before doing so)'),
});

const operatorChangeSchema = z.object({
  pool: z.string(),
  member: z.string(),
  field: z.enum(['state', 'weight', 'maxConnections']),
  value: z.union([z.number(), z.string()]).describe('state: enabled, drain or disabled; weight and maxConnections: numbers'),
  at: z.number().describe('ms since epoch when the operator set it'),
  by: z.string().describe('the node it was set on (its sync address)'),
});

export const haSyncSchema = z.object({
  peers: z.array(syncPeerSchema),
  operator: z.array(operatorChangeSchema).describe('the last change of each member field set through the API or ctl on any node, newest first'),
}).nullable().describe('null when ha.sync is not configured');

const ADMIN_STATES = ['enabled', 'drain', 'disabled'] as const;

export function haRoutes(api: ApiContext): Route[] {
  return [
    route({
      method: 'GET', path: '/api/v1/ha', access: 'read', query: emptyQuerySchema,
      summary: 'This node of an ha pair: the replication link to its peers and the operator changes they share',
      responses: { 200: { description: 'the node\'s ha state', schema: z.object({ sync: haSyncSchema }) } },
      handle: () => {
        const sync = api.host.haSync ?? null;
        if (sync === null) return { body: { sync: null } };
        const operator = sync.operatorChanges().map((c) => ({ ...c, value: c.field === 'state' ? ADMIN_STATES[c.value] : c.value }));
        return { body: { sync: { peers: sync.status().peers, operator } } };
      },
    }),
  ];
}
