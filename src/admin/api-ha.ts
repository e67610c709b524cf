// Routes about the active/standby pair: this node's VRRP state, the replication link (each peer's
// link and the operator changes the nodes share, with who set each one and when) and conntrackd,
// and handing the VIPs to the peer on purpose for maintenance.

import type { ApiContext } from './host.ts';
import { ApiError } from './http.ts';
import { route, type Route } from './router.ts';
import { emptyQuerySchema, errorResponse, handoverSchema, haStatusSchema } from './schemas.ts';
import type { HaStatus } from '../ha/status.ts';

const ADMIN_STATES = ['enabled', 'drain', 'disabled'] as const;

/** The plane's status with the sync link's part filled in; 404 without an ha section. */
function present(api: ApiContext, status: HaStatus | null | undefined): HaStatus {
  if (status == null) throw new ApiError(404, 'this furiwake is not part of a pair (its config has no ha section)');
  const sync = api.host.haSync ?? null;
  if (sync === null) return status;
  const operator = sync.operatorChanges().map((c) => ({ ...c, value: c.field === 'state' ? ADMIN_STATES[c.value] ?? String(c.value) : c.value }));
  return { ...status, sync: { peers: sync.status().peers, operator } };
}

export function haRoutes(api: ApiContext): Route[] {
  return [
    route({
      method: 'GET', path: '/api/v1/ha', access: 'read', query: emptyQuerySchema,
      summary: "This node of the pair: its VRRP role, the VIPs, whether it is unfit or handed over, keepalived's process, the last transitions, the replication link and conntrackd",
      responses: { 200: { description: 'the state of the pair as this node sees it', schema: haStatusSchema }, 404: errorResponse('no ha section') },
      handle: () => ({ body: present(api, api.host.ha?.status()) }),
    }),
    route({
      method: 'POST', path: '/api/v1/ha/handover', access: 'write', query: emptyQuerySchema, body: handoverSchema,
      summary: 'Hand the VIPs to the peer (on: true) until undone (on: false), for maintenance',
      description: 'While handed over, this node tells keepalived it is unfit: it releases the VIPs and does not take them ' +
        'back, even with preempt, until `on: false`. A restart of furiwake ends the handover.',
      responses: { 200: { description: 'the state after the change', schema: haStatusSchema }, 404: errorResponse('no ha section'), 409: errorResponse('this node does not run VRRP') },
      handle: ({ body }) => {
        if (present(api, api.host.ha?.status()).vrrp === null) {
          // keepalived may be configured but not running (it could not start, or is starting)
          if (api.host.ha?.movesVips() === true) throw new ApiError(409, 'keepalived is not running on this node (it is starting, or could not start: see furiwake\'s log), so it holds no VIP to hand over; ask again once GET /api/v1/ha shows its vrrp state');
          throw new ApiError(409, 'this node does not move the VIPs (its ha section has no interface and router-id): there is nothing to hand over');
        }
        return { body: present(api, api.host.ha?.handover(body.on)) };
      },
    }),
  ];
}
