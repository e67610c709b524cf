// Routes of an active/standby pair: what this node says of itself (HaStatus) and the operator's
// handover (the VIPs to the peer for maintenance, and back). 404 when the config has no ha section.

import type { ApiContext, HaNode } from './host.ts';
import { ApiError } from './http.ts';
import { route, type Route } from './router.ts';
import { components, emptyQuerySchema, errorResponse } from './schemas.ts';
import { z } from 'zod';

const role = z.enum(['init', 'backup', 'master', 'fault', 'stopped']).describe("keepalived's state of this node's VRRP instance; stopped: keepalived is not running");

export const haStatusSchema = z.object({
  vrrp: z.object({
    role,
    interface: z.string(),
    routerId: z.int(),
    priority: z.int().describe('as configured'),
    vips: z.array(z.string()).describe('the VIPs this pair moves between its nodes'),
    handedOver: z.boolean().describe('an operator has handed the VIPs to the peer'),
    unfit: z.string().nullable().describe('why this node tells keepalived it is unfit (no usable member, data plane not answering); null when fit'),
    keepalived: z.object({ running: z.boolean(), pid: z.int().nullable(), restarts: z.int() }),
    transitions: z.array(z.object({ from: role, to: role, at: z.number().describe('ms since epoch'), reason: z.string() })).describe('the last transitions, newest last'),
  }),
  sync: z.object({
    peers: z.array(z.object({
      peer: z.string(),
      connected: z.boolean(),
      lastSync: z.number().nullable().describe('ms since epoch of the last full resynchronisation; null: never'),
      sent: z.int(),
      received: z.int(),
      authFailures: z.int(),
    })),
  }).nullable().describe('the replication link; null when ha.sync is not configured'),
  conntrack: z.object({ running: z.boolean(), pid: z.int().nullable(), restarts: z.int() }).nullable()
    .describe('conntrackd; null when no nat or dsr service runs or conntrack-sync is off'),
});
components.add(haStatusSchema, { id: 'HaStatus' });

export const handoverSchema = z.strictObject({
  on: z.boolean({ error: 'expected true (hand the VIPs to the peer) or false (take them back)' }),
}, { error: 'expected a JSON object with on: true or false' });
components.add(handoverSchema, { id: 'Handover' });

const noHa = errorResponse('the config has no ha section');

export function haRoutes(api: ApiContext): Route[] {
  const node = (): HaNode => {
    const ha = api.host.ha ?? null;
    if (ha === null) throw new ApiError(404, 'this furiwake is not part of a pair: the config has no ha section');
    return ha;
  };
  return [
    route({
      method: 'GET', path: '/api/v1/ha', access: 'read', query: emptyQuerySchema,
      summary: 'This node of an active/standby pair: its VRRP role, VIPs, keepalived, the replication link and conntrackd',
      responses: { 200: { description: 'the node', schema: haStatusSchema }, 404: noHa },
      handle: () => ({ body: node().status() }),
    }),
    route({
      method: 'POST', path: '/api/v1/ha/handover', access: 'write', query: emptyQuerySchema, body: handoverSchema,
      summary: 'Hand the VIPs to the peer (maintenance), or take them back',
      description: 'on: true lowers this node below its peer so the peer takes the VIPs, and keeps it there; on: false ends the handover ' +
        'and the election decides again (with preempt, the node of higher priority takes the VIPs back).',
      responses: { 200: { description: 'the node after the change', schema: haStatusSchema }, 404: noHa, 409: errorResponse('the handover cannot be done now') },
      handle: async ({ body }) => {
        const ha = node();
        try {
          return { body: await ha.handover(body.on) };
        } catch (err) {
          throw new ApiError(409, (err as Error).message);
        }
      },
    }),
  ];
}
