// Routes about the active/standby pair: this node's VRRP state (and the replication link and
// conntrackd when they run), and handing the VIPs to the peer on purpose for maintenance.

import type { ApiContext } from './host.ts';
import { ApiError } from './http.ts';
import { route, type Route } from './router.ts';
import { emptyQuerySchema, errorResponse, handoverSchema, haStatusSchema } from './schemas.ts';
import type { HaStatus } from '../ha/status.ts';

function present(status: HaStatus | null | undefined): HaStatus {
  if (status == null) throw new ApiError(404, 'this furiwake is not part of a pair (its config has no ha section)');
  return status;
}

export function haRoutes(api: ApiContext): Route[] {
  return [
    route({
      method: 'GET', path: '/api/v1/ha', access: 'read', query: emptyQuerySchema,
      summary: "This node of the pair: its VRRP role, the VIPs, whether it is unfit or handed over, keepalived's process, the last transitions",
      responses: { 200: { description: 'the state of the pair as this node sees it', schema: haStatusSchema }, 404: errorResponse('no ha section') },
      handle: () => ({ body: present(api.host.ha?.status()) }),
    }),
    route({
      method: 'POST', path: '/api/v1/ha/handover', access: 'write', query: emptyQuerySchema, body: handoverSchema,
      summary: 'Hand the VIPs to the peer (on: true) until undone (on: false), for maintenance',
      description: 'While handed over, this node tells keepalived it is unfit: it releases the VIPs and does not take them ' +
        'back, even with preempt, until `on: false`. A restart of furiwake ends the handover.',
      responses: { 200: { description: 'the state after the change', schema: haStatusSchema }, 404: errorResponse('no ha section') },
      handle: ({ body }) => {
        present(api.host.ha?.status());
        return { body: present(api.host.ha?.handover(body.on)) };
      },
    }),
  ];
}
