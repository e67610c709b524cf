// Routes about the process as a whole: its status, the running config (secrets hidden),
// reloading the config file, the live event stream, and the API's own description.

import { describeChanges } from '../runtime/config-changes.ts';
import { ConfigError } from '../config/issues.ts';
import type { Config } from '../config/types.ts';
import type { EventStream } from './event-stream.ts';
import { format } from './event-stream.ts';
import type { ApiContext } from './host.ts';
import { ApiError } from './http.ts';
import { redact } from './redact.ts';
import { route, type Route } from './router.ts';
import { emptyQuerySchema, errorResponse, reloadSchema, snapshotSchema, statusSchema } from './schemas.ts';
import { snapshot, status } from './snapshot.ts';
import { z } from 'zod';

export function systemRoutes(api: ApiContext, events: EventStream, openapi: () => unknown): Route[] {
  let reloading = false;

  const reload = async (): Promise<{ changes: string[]; problems: string[] }> => {
    const host = api.host;
    if (host.load === null) throw new ApiError(409, 'this furiwake has no config file to read again (it was started without one, as the demo is)');
    if (reloading) throw new ApiError(409, 'a reload is already running; try again when it is done');
    reloading = true;
    try {
      let next: Config;
      try {
        next = await host.load();
      } catch (err) {
        if (err instanceof ConfigError) {
          throw new ApiError(422, 'the config file was refused; the running config stays', { issues: err.issues.map((i) => ({ ...i })) });
        }
        throw new ApiError(422, `the config file could not be read; the running config stays: ${(err as Error).message}`);
      }
      const before = host.runtime.config;
      const problems = await host.reload(next);
      host.log.info({ problems }, 'config reloaded through the admin API');
      return { changes: before === null ? [] : describeChanges(before, next), problems };
    } finally {
      reloading = false;
    }
  };

  return [
    route({
      method: 'GET', path: '/api/v1/status', access: 'read', query: emptyQuerySchema,
      summary: 'The process: version, uptime, what needs the token, counts of services, members and connections',
      responses: { 200: { description: 'the status', schema: statusSchema } },
      handle: () => ({ body: status(api) }),
    }),
    route({
      method: 'GET', path: '/api/v1/config', access: 'read', query: emptyQuerySchema,
      summary: 'The running config, normalized (durations in ms), with every secret replaced by "(redacted)"',
      responses: { 200: { description: 'the config', schema: z.record(z.string(), z.unknown()) } },
      handle: () => ({ body: redact(api.host.runtime.config) }),
    }),
    route({
      method: 'POST', path: '/api/v1/reload', access: 'write', query: emptyQuerySchema,
      summary: 'Read the config file again and apply it, as SIGHUP does',
      description: 'A refused file changes nothing (422, with every problem). An applied file may still leave problems ' +
        '(a port that cannot be bound): they are listed in `problems`.',
      responses: {
        200: { description: 'the file was applied', schema: reloadSchema },
        409: errorResponse('no file to read, or a reload is running'),
        422: errorResponse('the file was refused; the running config stays'),
      },
      handle: async () => ({ body: await reload() }),
    }),
    route({
      method: 'GET', path: '/api/v1/events', access: 'read', query: emptyQuerySchema,
      summary: 'Live events (text/event-stream): a snapshot at once and every second, member changes as they happen',
      description: '`event: snapshot` carries a Snapshot (the first one with each member\'s history); `event: member` carries ' +
        'a MemberEvent: the change (health, admin, agent, weight, max-connections, with from and to) and the member\'s new state.',
      responses: { 200: { description: 'the stream', schema: snapshotSchema, contentType: 'text/event-stream' }, 503: errorResponse('too many streams open') },
      handle: async ({ req, res }) => {
        events.open(req, res, req.method === 'HEAD' ? '' : format('snapshot', await snapshot(api, true)));
        return null;
      },
    }),
    route({
      method: 'GET', path: '/api/v1/openapi.json', access: 'read', query: emptyQuerySchema,
      summary: 'This document',
      responses: { 200: { description: 'OpenAPI 3.1', schema: z.record(z.string(), z.unknown()) } },
      handle: () => ({ body: openapi() }),
    }),
  ];
}
