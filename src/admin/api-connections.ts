// Routes for the connection table and the stick tables: read them a page at a time, and
// forget stick entries (one key, or all of a service's).

import type { ConnectionFilter } from '../runtime/connection-table.ts';
import { list } from './api-pools.ts';
import type { ApiContext } from './host.ts';
import { ApiError } from './http.ts';
import { route, type Route } from './router.ts';
import { connectionPageSchema, connectionsQuerySchema, deletedSchema, emptyQuerySchema, errorSchema, stickPageSchema, stickQuerySchema, stickTableSchema } from './schemas.ts';
import { stickEntryView, stickSummary, type StickTableSource } from './stick-tables.ts';
import { connectionView } from './views.ts';
import { z } from 'zod';

export function connectionRoutes(api: ApiContext): Route[] {
  const runtime = api.host.runtime;

  const tableOf = (service: string): StickTableSource => {
    const tables = api.stickTables();
    const table = tables.find((t) => t.service === service);
    if (table !== undefined) return table;
    const why = runtime.services.has(service) ? `service ${service} has no stick table (its persistence is not source-ip or tls-session)` : `no service named ${JSON.stringify(service)}`;
    throw new ApiError(404, `${why}; services with one: ${list(tables.map((t) => t.service))}`);
  };

  return [
    route<z.infer<typeof connectionsQuerySchema>, undefined>({
      method: 'GET', path: '/api/v1/connections', access: 'read', query: connectionsQuerySchema,
      summary: 'The connection table, a page at a time, oldest first',
      description: 'Each entry is a live tcp connection or udp flow: client -> VIP => balancer -> member, with bytes each way.',
      responses: { 200: { description: 'a page of connections', schema: connectionPageSchema }, 400: { description: 'an invalid filter', schema: errorSchema } },
      handle: ({ query }) => {
        const filter: ConnectionFilter = {};
        if (query.service !== undefined) filter.service = query.service;
        if (query.member !== undefined) {
          const member = runtime.member(query.pool!, query.member);
          // an unknown member has no connections: an empty page, as for any filter that matches nothing
          if (member === undefined) return { body: { total: 0, offset: query.offset, limit: query.limit, items: [] } };
          filter.member = member;
        }
        const items = [];
        let total = 0;
        for (const entry of runtime.connections.list(filter)) {
          if (query.pool !== undefined && entry.member?.poolName !== query.pool) continue;
          if (total >= query.offset && items.length < query.limit) items.push(connectionView(entry));
          total++;
        }
        return { body: { total, offset: query.offset, limit: query.limit, items } };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/stick-tables', access: 'read', query: emptyQuerySchema,
      summary: 'The stick tables: size, bounds, hits, misses, expirations, evictions',
      responses: { 200: { description: 'one per service with stateful persistence', schema: z.array(stickTableSchema) } },
      handle: () => ({ body: api.stickTables().map(stickSummary) }),
    }),
    route<z.infer<typeof stickQuerySchema>, undefined>({
      method: 'GET', path: '/api/v1/stick-tables/{service}', access: 'read', query: stickQuerySchema,
      summary: "A service's stick entries, most recently used first, a page at a time",
      responses: { 200: { description: 'a page of entries', schema: stickPageSchema }, 400: { description: 'an invalid query', schema: errorSchema }, 404: { description: 'no such table', schema: errorSchema } },
      handle: ({ params, query }) => {
        const source = tableOf(params.service);
        const items = [];
        let total = 0;
        for (const e of source.table.entries()) {
          if (query.key !== undefined && !e.key.includes(query.key)) continue;
          if (total >= query.offset && items.length < query.limit) items.push(stickEntryView(source, e));
          total++;
        }
        return { body: { total, offset: query.offset, limit: query.limit, items } };
      },
    }),
    route({
      method: 'DELETE', path: '/api/v1/stick-tables/{service}/entries/{key}', access: 'write', query: emptyQuerySchema,
      summary: 'Forget one client: its next connection is balanced afresh',
      responses: { 200: { description: 'the key was forgotten', schema: deletedSchema }, 404: { description: 'no such table or key', schema: errorSchema } },
      handle: ({ params }) => {
        const source = tableOf(params.service);
        if (!source.table.delete(params.key)) throw new ApiError(404, `the stick table of ${params.service} has no key ${JSON.stringify(params.key)}`);
        api.host.log.info({ service: params.service, key: params.key }, 'stick entry deleted through the admin API');
        return { body: { deleted: 1 } };
      },
    }),
    route({
      method: 'DELETE', path: '/api/v1/stick-tables/{service}/entries', access: 'write', query: emptyQuerySchema,
      summary: "Forget every client of a service's stick table",
      responses: { 200: { description: 'how many entries were forgotten', schema: deletedSchema }, 404: { description: 'no such table', schema: errorSchema } },
      handle: ({ params }) => {
        const deleted = tableOf(params.service).table.clear();
        api.host.log.info({ service: params.service, deleted }, 'stick table cleared through the admin API');
        return { body: { deleted } };
      },
    }),
  ];
}
