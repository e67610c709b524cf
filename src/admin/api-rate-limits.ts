// The rate limits in the API and /metrics: each limit's settings and counters (GET
// /api/v1/rate-limits), a service's buckets a page at a time (GET /api/v1/rate-limits/{service}).
// The tables are the process's (with worker threads the main thread holds the same shared tables
// the workers count in), so what is read here is the whole process's.

import { z } from 'zod';
import type { RateLimit } from '../runtime/rate-limits.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { serviceOf } from './api-pools.ts';
import type { ApiContext } from './host.ts';
import { route, type Route } from './router.ts';
import { components, emptyQuerySchema, errorSchema, stickQuerySchema } from './schemas.ts';

const rateLimitSchema = z.object({
  service: z.string(),
  route: z.string().nullable().describe("the route whose requests it counts; null: the service's"),
  limit: z.enum(['requests', 'connections']).describe('what it counts: requests, or new connections (connection-rate)'),
  rate: z.number().describe('tokens a key gains per second'),
  burst: z.number().describe("a key's bucket holds this many tokens"),
  by: z.string().describe('client, or header NAME'),
  ipv4Mask: z.int(),
  ipv6Mask: z.int(),
  tableSize: z.int().describe('the most keys the table holds'),
  keys: z.int().describe('keys held now (buckets not yet refilled)'),
  passed: z.number().describe('requests (connections) let through'),
  refused: z.number().describe('requests answered 429 (connections closed), those refused for a full table among them'),
  refusedTableFull: z.int().describe('new keys refused because the table was full of live buckets'),
});
components.add(rateLimitSchema, { id: 'RateLimit' });

const rateEntrySchema = z.object({
  route: z.string().nullable(),
  limit: z.enum(['requests', 'connections']),
  key: z.string().describe('the client address (with its mask when shorter than the address) or the header value (its first 32 bytes)'),
  tokens: z.number().describe('tokens in the bucket now'),
  rate: z.number().describe('tokens it gains per second'),
  passed: z.number(),
  refused: z.number(),
});
components.add(rateEntrySchema, { id: 'RateEntry' });

const rateEntryPageSchema = z.object({ total: z.int(), offset: z.int(), limit: z.int(), items: z.array(rateEntrySchema) });
components.add(rateEntryPageSchema, { id: 'RateEntryPage' });

/** Every limit of every service, with the service's name. */
export function* rateLimitsOf(runtime: Runtime): Generator<[string, RateLimit]> {
  for (const service of runtime.services.values()) for (const l of service.rateLimits?.all() ?? []) yield [service.name, l];
}

function summary(service: string, l: RateLimit): z.infer<typeof rateLimitSchema> {
  const c = l.config;
  const t = l.table;
  const counters = t.counters;
  return {
    service, route: l.route, limit: l.kind, rate: t.rate * 1000, burst: t.burst, by: c.by.kind === 'header' ? `header ${c.by.name}` : 'client',
    ipv4Mask: c.ipv4Mask, ipv6Mask: c.ipv6Mask, tableSize: t.size, keys: t.used, passed: counters.passed, refused: counters.refused, refusedTableFull: counters.full,
  };
}

export function rateLimitRoutes(api: ApiContext): Route[] {
  const runtime = api.host.runtime;
  return [
    route({
      method: 'GET', path: '/api/v1/rate-limits', access: 'read', query: emptyQuerySchema,
      summary: 'The rate limits: settings, keys held, requests (connections) let through and refused',
      responses: { 200: { description: "one per limit: a service's requests, its connections, each route's requests", schema: z.array(rateLimitSchema) } },
      handle: () => ({ body: [...rateLimitsOf(runtime)].map(([s, l]) => summary(s, l)) }),
    }),
    route<z.infer<typeof stickQuerySchema>, undefined>({
      method: 'GET', path: '/api/v1/rate-limits/{service}', access: 'read', query: stickQuerySchema,
      summary: "A service's rate-limit buckets (its own and its routes'), a page at a time",
      responses: { 200: { description: 'a page of buckets', schema: rateEntryPageSchema }, 400: { description: 'an invalid query', schema: errorSchema }, 404: { description: 'no such service', schema: errorSchema } },
      handle: ({ params, query }) => {
        const service = serviceOf(runtime, params.service);
        const now = Date.now();
        const items: z.infer<typeof rateEntrySchema>[] = [];
        for (const l of service.rateLimits?.all() ?? []) {
          for (const e of l.table.entries(now, l.config.ipv4Mask, l.config.ipv6Mask)) {
            if (query.key === undefined || e.key.includes(query.key)) items.push({ route: l.route, limit: l.kind, key: e.key, tokens: e.tokens, rate: l.table.rate * 1000, passed: e.passed, refused: e.refused });
          }
        }
        return { body: { total: items.length, offset: query.offset, limit: query.limit, items: items.slice(query.offset, query.offset + query.limit) } };
      },
    }),
  ];
}
