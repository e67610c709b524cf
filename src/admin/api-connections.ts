// Routes for the connection table and the stick tables: read them a page at a time, end
// connections (one by id, or those of a service, pool or member), and forget stick entries (one
// key, or all of a service's when asked in so many words).

import type { ConnectionEntry, ConnectionFilter } from '../runtime/connection-table.ts';
import type { Member } from '../runtime/member.ts';
import { list, memberOf, poolOf, serviceOf } from './api-pools.ts';
import type { ApiContext } from './host.ts';
import type { DataThreads } from './threads.ts';
import { ApiError } from './http.ts';
import { route, type Route, type RouteDef } from './router.ts';
import { clearStickQuerySchema, type ConnectionView, connectionPageSchema, connectionsQuerySchema, deletedSchema, emptyQuerySchema, endConnectionsQuerySchema, endedSchema, errorSchema, stickPageSchema, stickQuerySchema, stickTableSchema } from './schemas.ts';
import { kernelStickSummaries, kernelStickTables, stickEntryView, stickSummary, type KernelStickTable, type StickTableSource } from './stick-tables.ts';
import { connectionView, kernelConnectionView } from './views.ts';
import { z } from 'zod';

export function connectionRoutes(api: ApiContext): Route[] {
  const runtime = api.host.runtime;

  /** The table of a service: furiwake's own, or the kernel's (nat, dsr). */
  const tableOf = (service: string): StickTableSource | KernelStickTable => {
    const tables = [...api.stickTables(), ...kernelStickTables(runtime)];
    const table = tables.find((t) => t.service === service);
    if (table !== undefined) return table;
    const why = runtime.services.has(service) ? `service ${service} has no stick table (its persistence is not source-ip or tls-session)` : `no service named ${JSON.stringify(service)}`;
    throw new ApiError(404, `${why}; services with one: ${list(tables.map((t) => t.service))}`);
  };
  const ownTable = (service: string): StickTableSource => {
    const t = tableOf(service);
    if ('table' in t) return t;
    throw new ApiError(409, `the kernel keeps the stick table of ${service} (an nftables set); its entries cannot be deleted here and expire on their own`);
  };

  return [
    route<z.infer<typeof connectionsQuerySchema>, undefined>({
      method: 'GET', path: '/api/v1/connections', access: 'read', query: connectionsQuerySchema,
      summary: 'The connection table, a page at a time: those furiwake forwards, oldest first, then those the kernel keeps (nat, dsr)',
      description: 'Each entry is a live tcp connection or udp flow: client -> VIP => balancer -> member, with bytes each way.',
      responses: { 200: { description: 'a page of connections', schema: connectionPageSchema }, 400: { description: 'an invalid filter', schema: errorSchema } },
      handle: async ({ query, req }) => {
        if (query['show-query']) api.requireToken(req, 'show-query=true needs');
        const filter: ConnectionFilter = {};
        if (query.service !== undefined) filter.service = query.service;
        if (query.member !== undefined) {
          const member = runtime.member(query.pool!, query.member);
          // an unknown member has no connections: an empty page, as for any filter that matches nothing
          if (member === undefined) return { body: { total: 0, offset: query.offset, limit: query.limit, items: [] } };
          filter.member = member;
        }
        const inPool = (m: { poolName: string } | null) => query.pool === undefined || m?.poolName === query.pool;
        const items: ConnectionView[] = [];
        let total = 0;
        const take = (view: () => ConnectionView): void => {
          if (total >= query.offset && items.length < query.limit) items.push(view());
          total++;
        };
        const threads = api.host.dataThreads ?? null;
        if (threads === null) {
          for (const entry of runtime.connections.list(filter)) if (inPool(entry.member)) take(() => connectionView(entry, query['show-query']));
        } else {
          const { listed, more } = await withThreads(threads, runtime.connections.list(filter), inPool, query);
          for (const view of listed) take(() => view);
          total += more;
        }
        const kernel = runtime.kernel === null ? [] : await runtime.kernel.connections(filter);
        for (const k of kernel) if (inPool(k.member)) take(() => kernelConnectionView(k));
        return { body: { total, offset: query.offset, limit: query.limit, items } };
      },
    }),
    route({
      method: 'DELETE', path: '/api/v1/connections/{id}', access: 'write', query: emptyQuerySchema,
      summary: 'End one connection or udp flow, by its id in the connection table',
      description: 'tcp: the client and the member get a reset; http: the client connection is closed (a request in flight is cut) with its member connection; ' +
        "udp: the flow is forgotten and its socket toward the member closed (the client's next datagram starts a new flow). " +
        'nat: its conntrack entry is deleted, so its next packets are no longer translated; dsr: its flow entry is deleted, so its member gets no more of it, ' +
        'and a tcp flow\'s next packets get a reset from the balancer for 60 s (a udp flow\'s next datagram is balanced anew). See docs/management.md.',
      responses: endAnswers('the connection was ended', 'not a connection id', 'no such connection'),
      handle: async ({ params }) => {
        if (!/^\d{1,15}$/.test(params.id)) throw new ApiError(400, `expected a connection id (a whole number, as GET /api/v1/connections shows), got ${JSON.stringify(params.id)}`);
        const id = Number(params.id);
        const entry = runtime.connections.get(id);
        if (entry === undefined) {
          // a worker thread's id (global.workers above 1) goes to that worker
          const theirs = (await api.host.dataThreads?.end(id)) ?? null;
          if (theirs !== null && theirs.ended > 0) {
            api.host.log.info({ id, worker: theirs.worker, ended: 1 }, 'connections ended through the admin API');
            return { body: { ended: 1, kernel: 0 } };
          }
          const kernel = runtime.kernel === null ? [] : await runtime.kernel.connections();
          const k = kernel.find((c) => c.id === id);
          if (k === undefined) throw new ApiError(404, `no connection ${id}: it has ended, or never was (ids are in GET /api/v1/connections)`);
          const ended = await runtime.kernel!.end(k);
          if (ended === 0) throw new ApiError(404, `no connection ${id}: it ended meanwhile`);
          api.host.log.info({ id, service: k.service, mode: k.mode, ended }, 'kernel connection ended through the admin API');
          return { body: { ended, kernel: 0 } };
        }
        end(api, [entry], { id });
        return { body: { ended: 1, kernel: 0 } };
      },
    }),
    route<z.infer<typeof endConnectionsQuerySchema>, undefined>({
      method: 'DELETE', path: '/api/v1/connections', access: 'write', query: endConnectionsQuerySchema,
      summary: 'End the connections and udp flows of a service, a pool or a member',
      description: 'At least one of service and pool is required (member needs pool); together they narrow. Each connection ends as DELETE /api/v1/connections/{id} ends one, ' +
        'nat connections and dsr flows of the matching services and members too.',
      responses: endAnswers('how many were ended', 'no filter, or an invalid one', 'no such service, pool or member'),
      handle: async ({ query }) => {
        const filter: ConnectionFilter = {};
        if (query.service !== undefined) {
          serviceOf(runtime, query.service);
          filter.service = query.service;
        }
        if (query.pool !== undefined) {
          const pool = poolOf(runtime, query.pool);
          if (query.member !== undefined) filter.member = memberOf(pool, query.member);
        }
        const inPool = (m: Member | null): boolean => query.pool === undefined || m?.poolName === query.pool;
        const entries: ConnectionEntry[] = [];
        for (const entry of runtime.connections.list(filter)) if (inPool(entry.member)) entries.push(entry);
        const theirs = (await api.host.dataThreads?.endAll(query)) ?? 0;
        end(api, entries, query, theirs);
        let kernel = 0;
        if (runtime.kernel !== null) {
          kernel = await runtime.kernel.endAll(filter, query.pool);
          if (kernel > 0) api.host.log.info({ ...query, ended: kernel }, 'nat connections and dsr flows ended through the admin API');
        }
        return { body: { ended: entries.length + theirs + kernel, kernel: 0 } };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/stick-tables', access: 'read', query: emptyQuerySchema,
      summary: 'The stick tables: size, bounds, hits, misses, expirations, evictions',
      responses: { 200: { description: 'one per service with stateful persistence', schema: z.array(stickTableSchema) } },
      handle: async () => ({ body: [...api.stickTables().map(stickSummary), ...await kernelStickSummaries(runtime)] }),
    }),
    route<z.infer<typeof stickQuerySchema>, undefined>({
      method: 'GET', path: '/api/v1/stick-tables/{service}', access: 'read', query: stickQuerySchema,
      summary: "A service's stick entries, most recently used first, a page at a time",
      responses: { 200: { description: 'a page of entries', schema: stickPageSchema }, 400: { description: 'an invalid query', schema: errorSchema }, 404: { description: 'no such table', schema: errorSchema } },
      handle: async ({ params, query }) => {
        const source = tableOf(params.service);
        const entries = 'table' in source
          ? [...source.table.entries()].map((e) => stickEntryView(source, e))
          : (await runtime.kernel!.sticky(source.service)).map((e) => ({ key: e.key, pool: source.pool, member: e.member?.id ?? null, expiresIn: Math.max(0, Math.round(e.expiresIn)) }));
        const matching = query.key === undefined ? entries : entries.filter((e) => e.key.includes(query.key!));
        return { body: { total: matching.length, offset: query.offset, limit: query.limit, items: matching.slice(query.offset, query.offset + query.limit) } };
      },
    }),
    route({
      method: 'DELETE', path: '/api/v1/stick-tables/{service}/entries/{key}', access: 'write', query: emptyQuerySchema,
      summary: 'Forget one client: its next connection is balanced afresh',
      responses: { 200: { description: 'the key was forgotten', schema: deletedSchema }, 404: { description: 'no such table or key', schema: errorSchema }, 409: { description: 'the kernel keeps this table', schema: errorSchema } },
      handle: ({ params }) => {
        const source = ownTable(params.service);
        if (!source.table.delete(params.key)) throw new ApiError(404, `the stick table of ${params.service} has no key ${JSON.stringify(params.key)}`);
        api.host.log.info({ service: params.service, key: params.key }, 'stick entry deleted through the admin API');
        return { body: { deleted: 1 } };
      },
    }),
    route<z.infer<typeof clearStickQuerySchema>, undefined>({
      method: 'DELETE', path: '/api/v1/stick-tables/{service}/entries', access: 'write', query: clearStickQuerySchema,
      summary: "Forget every client of a service's stick table (all=true is required)",
      responses: {
        200: { description: 'how many entries were forgotten', schema: deletedSchema }, 400: { description: 'all=true is missing', schema: errorSchema },
        404: { description: 'no such table', schema: errorSchema }, 409: { description: 'the kernel keeps this table', schema: errorSchema },
      },
      handle: ({ params }) => {
        const deleted = ownTable(params.service).table.clear();
        api.host.log.info({ service: params.service, deleted }, 'stick table cleared through the admin API');
        return { body: { deleted } };
      },
    }),
  ];
}

/** The answers of a route that ends connections: 200 with the counts, then each refusal. */
function endAnswers(ended: string, invalid: string, missing: string): RouteDef<unknown, unknown>['responses'] {
  return { 200: { description: ended, schema: endedSchema }, 400: { description: invalid, schema: errorSchema }, 404: { description: missing, schema: errorSchema } };
}

/** Ends connections an operator named; one log line says which and how many (`theirs`: those the worker threads ended). */
function end(api: ApiContext, entries: readonly ConnectionEntry[], which: Record<string, unknown>, theirs = 0): void {
  // the list is taken first: an entry may leave the table while it ends
  for (const entry of entries) entry.terminate();
  api.host.log.info({ ...which, ended: entries.length + theirs }, 'connections ended through the admin API');
}

/**
 * The connections this thread and the worker threads forward, oldest first: enough of them for
 * the page asked (each thread sends its first offset + limit), and how many more match.
 */
async function withThreads(threads: DataThreads, own: Iterable<ConnectionEntry>, inPool: (m: Member | null) => boolean, query: z.infer<typeof connectionsQuerySchema>): Promise<{ listed: ConnectionView[]; more: number }> {
  const take = query.offset + query.limit;
  const listed: ConnectionView[] = [];
  let total = 0;
  for (const entry of own) {
    if (!inPool(entry.member)) continue;
    if (listed.length < take) listed.push(connectionView(entry, query['show-query']));
    total++;
  }
  const theirs = await threads.connections({ service: query.service, pool: query.pool, member: query.member, showQuery: query['show-query'], take, newest: false });
  for (const t of theirs) {
    listed.push(...t.items);
    total += t.total;
  }
  listed.sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.id - b.id);
  listed.length = Math.min(listed.length, take);
  return { listed, more: total - listed.length };
}
