// Routes for services, pools and members: what they are now, and the operator's writes to a
// member (admin state, weight, connection limit).

import type { Member } from '../runtime/member.ts';
import type { Pool } from '../runtime/pool.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { Service } from '../runtime/service.ts';
import type { ApiContext } from './host.ts';
import { ApiError } from './http.ts';
import { route, type Route } from './router.ts';
import { emptyQuerySchema, errorResponse, memberPatchSchema, memberSchema, poolSchema, serviceSchema, type MemberPatch } from './schemas.ts';
import { viewContext } from './snapshot.ts';
import { memberView, poolView, serviceView } from './views.ts';
import { z } from 'zod';

const historyQuery = z.strictObject({
  history: z.enum(['0', '1'], { error: 'expected 0 or 1' }).optional().describe('1: include each member\'s per-second connection counts'),
});

const notFound = errorResponse('no such service, pool or member');

export function poolRoutes(api: ApiContext): Route[] {
  const runtime = api.host.runtime;

  const poolNamed = (name: string): Pool => poolOf(runtime, name);
  const poolTotal = (pool: Pool): number => pool.members.reduce((n, m) => n + m.total, 0);

  return [
    route({
      method: 'GET', path: '/api/v1/services', access: 'read', query: emptyQuerySchema,
      summary: 'The services: VIP, mode, pool, connections',
      responses: { 200: { description: 'every service', schema: z.array(serviceSchema) } },
      handle: () => {
        const ctx = viewContext(api);
        return { body: [...runtime.services.values()].map((s) => serviceView(ctx, s)) };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/services/{service}', access: 'read', query: emptyQuerySchema,
      summary: 'One service',
      responses: { 200: { description: 'the service', schema: serviceSchema }, 404: notFound },
      handle: ({ params }) => {
        return { body: serviceView(viewContext(api), serviceOf(runtime, params.service)) };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/pools', access: 'read', query: historyQuery,
      summary: 'The pools with their members',
      responses: { 200: { description: 'every pool', schema: z.array(poolSchema) } },
      handle: ({ query }) => {
        const ctx = viewContext(api, query.history === '1');
        return { body: [...runtime.pools.values()].map((p) => poolView(ctx, p)) };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/pools/{pool}', access: 'read', query: historyQuery,
      summary: 'One pool with its members',
      responses: { 200: { description: 'the pool', schema: poolSchema }, 404: notFound },
      handle: ({ params, query }) => ({ body: poolView(viewContext(api, query.history === '1'), poolNamed(params.pool)) }),
    }),
    route({
      method: 'GET', path: '/api/v1/pools/{pool}/members', access: 'read', query: historyQuery,
      summary: "A pool's members",
      responses: { 200: { description: 'the members, in the order of the config', schema: z.array(memberSchema) }, 404: notFound },
      handle: ({ params, query }) => {
        const pool = poolNamed(params.pool);
        const ctx = viewContext(api, query.history === '1');
        const total = poolTotal(pool);
        return { body: pool.members.map((m) => memberView(ctx, m, total)) };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/pools/{pool}/members/{member}', access: 'read', query: historyQuery,
      summary: 'One member: health, each monitor, agent, admin state, weights, connections, rates',
      responses: { 200: { description: 'the member', schema: memberSchema }, 404: notFound },
      handle: ({ params, query }) => {
        const pool = poolNamed(params.pool);
        return { body: memberView(viewContext(api, query.history === '1'), memberOf(pool, params.member), poolTotal(pool)) };
      },
    }),
    route<Record<string, never>, MemberPatch>({
      method: 'PATCH', path: '/api/v1/pools/{pool}/members/{member}', access: 'write', query: emptyQuerySchema, body: memberPatchSchema,
      summary: 'Drain, disable or enable a member; set its weight or connection limit',
      description: 'Every key given is applied, or none when one is invalid. The admin state lasts until changed again ' +
        '(a reload keeps it); so do weight and maxConnections, unless the reloaded file changes that member\'s weight or max-connections.',
      responses: { 200: { description: 'the member as it is now', schema: memberSchema }, 400: errorResponse('an invalid body; nothing was changed'), 404: notFound },
      handle: ({ params, body }) => {
        const pool = poolNamed(params.pool);
        const member = memberOf(pool, params.member);
        if (body.maxConnections !== undefined) member.setMaxConnections(body.maxConnections);
        if (body.weight !== undefined) member.setWeight(body.weight);
        if (body.state !== undefined) member.setAdmin(body.state);
        runtime.events.emit('operator', member, body);
        api.host.log.info({ pool: pool.name, member: member.id, ...body }, 'member changed through the admin API');
        return { body: memberView(viewContext(api), member, poolTotal(pool)) };
      },
    }),
  ];
}

/** The service of that name, or a 404 naming those there are. */
export function serviceOf(runtime: Runtime, name: string): Service {
  const service = runtime.services.get(name);
  if (service === undefined) throw new ApiError(404, `no service named ${JSON.stringify(name)}; services are: ${list([...runtime.services.keys()])}`);
  return service;
}

/** The pool of that name, or a 404 naming those there are. */
export function poolOf(runtime: Runtime, name: string): Pool {
  const pool = runtime.pools.get(name);
  if (pool === undefined) throw new ApiError(404, `no pool named ${JSON.stringify(name)}; pools are: ${list([...runtime.pools.keys()])}`);
  return pool;
}

/** The member of a pool with that id, or a 404 naming its members. */
export function memberOf(pool: Pool, id: string): Member {
  const member = pool.member(id);
  if (member === undefined) throw new ApiError(404, `pool ${pool.name} has no member ${JSON.stringify(id)}; its members are: ${list(pool.members.map((m) => m.id))}`);
  return member;
}

/** Names for a message, bounded so that a pool of a thousand members gives a readable line. */
export function list(names: readonly string[]): string {
  if (names.length === 0) return '(none)';
  const shown = names.slice(0, 20).join(', ');
  return names.length > 20 ? `${shown} and ${names.length - 20} more` : shown;
}
