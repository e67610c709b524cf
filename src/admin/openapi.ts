// The OpenAPI 3.1 document of the admin API, generated from the route list and the same zod
// schemas that validate requests (z.toJSONSchema), so it says what the server does.

import { z } from 'zod';
import { furiwakeVersion } from '../version.ts';
import type { Route } from './router.ts';
import { components } from './schemas.ts';

type Json = Record<string, unknown>;

const REF = '#/components/schemas/';

export function openApiDocument(routes: readonly Route[]): Json {
  const named = z.toJSONSchema(components, { uri: (id) => `${REF}${id}` }).schemas;
  const schemas: Json = {};
  for (const [id, schema] of Object.entries(named)) {
    const { $schema: _s, $id: _i, ...rest } = schema as Json;
    schemas[id] = rest;
  }
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'furiwake admin API',
      version: furiwakeVersion(),
      description: 'Services, pools, members, the connection table and stick tables of a running furiwake; ' +
        'member writes and reload. Writes need the bearer token (admin.token) when one is set; reads need it when admin.read-token-required is true.',
    },
    paths,
    components: {
      schemas,
      securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'admin.token from the config' } },
    },
  };
}

function operation(r: Route): Json {
  const op: Json = {
    operationId: operationId(r),
    summary: r.summary,
    // reads may be open (no token configured, or read-token-required false): {} makes the token optional
    security: r.access === 'write' ? [{ token: [] }] : [{}, { token: [] }],
    parameters: [...r.names.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })), ...queryParameters(r)],
    responses: responses(r),
  };
  if (r.description !== undefined) op.description = r.description;
  if (r.body !== undefined) op.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(r.body) } } };
  return op;
}

function queryParameters(r: Route): Json[] {
  if (r.query === undefined) return [];
  const schema = z.toJSONSchema(r.query, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    const p: Json = { name, in: 'query', required: schema.required?.includes(name) ?? false, schema: rest };
    if (description !== undefined) p.description = description;
    return p;
  });
}

function responses(r: Route): Json {
  const out: Json = {
    401: { description: 'the token is missing or wrong', content: { 'application/json': { schema: { $ref: `${REF}Error` } } } },
  };
  for (const [status, { description, schema, contentType }] of Object.entries(r.responses)) {
    out[status] = schema === undefined ? { description } : { description, content: { [contentType ?? 'application/json']: { schema: schemaOf(schema) } } };
  }
  return out;
}

/** A schema with named parts pointing at components rather than repeating them. */
function schemaOf(schema: z.ZodType): Json {
  const { $schema: _s, $defs: _d, ...rest } = z.toJSONSchema(schema, { metadata: components, unrepresentable: 'any' }) as Json;
  return JSON.parse(JSON.stringify(rest).replaceAll('"#/$defs/', `"${REF}`)) as Json;
}

function operationId(r: Route): string {
  const words = r.path.replace('/api/v1/', '').replace(/\.json$/, '').split('/').map((s) => s.replace(/[{}]/g, ''));
  const camel = words.map((w) => w.split('-').map((p) => p[0].toUpperCase() + p.slice(1)).join('')).join('');
  return `${r.method.toLowerCase()}${camel}`;
}
