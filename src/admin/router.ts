// Routes of the admin API: each one names its method and path, who may call it, the zod
// schemas of its query and body, and its answers. The server validates with the schemas and the
// OpenAPI document is built from the same list.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { ApiError, type IssueView } from './http.ts';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** read: needs the token when admin.read-token-required; write: needs the token when one is set. */
export type Access = 'read' | 'write';

export interface Reply {
  status?: number;
  body: unknown;
}

export interface Call<Q, B> {
  params: Record<string, string>;
  query: Q;
  body: B;
  req: IncomingMessage;
  res: ServerResponse;
}

export interface RouteDef<Q, B> {
  method: Method;
  /** `/api/v1/pools/{pool}`: `{name}` matches one path segment */
  path: string;
  summary: string;
  description?: string;
  access: Access;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** status -> description and schema of the answer; the first is the success */
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /** a Reply, or null when the handler answered itself (a stream) */
  handle(call: Call<Q, B>): Reply | null | Promise<Reply | null>;
}

export interface Route extends RouteDef<unknown, unknown> {
  readonly pattern: RegExp;
  readonly names: string[];
}

/** Keeps each route's own query and body types while listing them together. */
export function route<Q = Record<string, never>, B = undefined>(def: RouteDef<Q, B>): Route {
  const names: string[] = [];
  const source = def.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { ...(def as unknown as RouteDef<unknown, unknown>), pattern: new RegExp(`^${source}$`), names };
}

export type Match = { route: Route; params: Record<string, string> } | { allowed: Method[] } | null;

/** The route for a method and path; or, when the path exists under other methods, those. */
export function match(routes: readonly Route[], method: string, path: string): Match {
  const allowed: Method[] = [];
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (m === null) continue;
    if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) {
      allowed.push(r.method);
      continue;
    }
    const params: Record<string, string> = {};
    r.names.forEach((name, i) => {
      try {
        params[name] = decodeURIComponent(m[i + 1]);
      } catch {
        throw new ApiError(400, `the path segment ${JSON.stringify(m[i + 1])} is not valid percent-encoding`);
      }
    });
    return { route: r, params };
  }
  return allowed.length > 0 ? { allowed } : null;
}

/** Parses with a route's schema; a refusal is a 400 naming each problem. */
export function validate<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map(issueView);
  throw new ApiError(400, `invalid ${what}: ${issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('; ')}`, { issues });
}

function issueView(issue: z.core.$ZodIssue): IssueView {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') return { path, message: `unknown ${issue.keys.length > 1 ? 'keys' : 'key'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` };
  return { path, message: issue.message };
}
