// Helpers for the admin tests: furiwake with its admin plane on a free loopback port, a JSON
// client for the API (fetch), a raw request for headers fetch will not send, a reader of
// server-sent events, and a stick table the persistence layer would hang on a service.

import http from 'node:http';
import { after } from 'node:test';
import type { AdminConfig } from '../../src/config/admin-types.ts';
import type { Config } from '../../src/config/types.ts';
import { Furiwake, type StartOptions } from '../../src/app.ts';
import { createLogger } from '../../src/log.ts';
import type { StickTableLike } from '../../src/admin/stick-tables.ts';

export const TOKEN = 'test-token-0123456789abcdef';

export function adminConfig(extra: Partial<AdminConfig> = {}): AdminConfig {
  return { listen: { host: '127.0.0.1', ip: '127.0.0.1', port: 0 }, token: TOKEN, readTokenRequired: false, maxConnections: 256, maxConnectionsPerClient: 16, ...extra };
}

export interface AdminApp {
  app: Furiwake;
  /** http://127.0.0.1:<admin port> */
  base: string;
}

/** furiwake on `config` plus an admin section; stopped when the test file ends. */
export async function startAdminApp(config: Config, admin: Partial<AdminConfig> = {}, options: StartOptions = {}): Promise<AdminApp> {
  const app = await Furiwake.start({ ...config, admin: adminConfig(admin) }, createLogger('silent'), options);
  after(() => app.stop(0));
  return { app, base: baseOf(app) };
}

export function baseOf(app: Furiwake): string {
  const address = app.admin.address();
  if (address === null) throw new Error('the admin plane is not running');
  return `http://127.0.0.1:${address.port}`;
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  method?: string;
  /** sent as JSON */
  body?: unknown;
  /** sent as is, with `type` */
  raw?: string;
  type?: string;
  token?: string | null;
  headers?: Record<string, string>;
}

/** Calls the API; the answer's body parsed as JSON (or text when it is not JSON). */
export async function call<T = any>(base: string, path: string, options: CallOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  } else if (options.raw !== undefined) {
    body = options.raw;
    if (options.type !== undefined) headers['content-type'] = options.type;
  }
  const res = await fetch(base + path, { method: options.method ?? 'GET', headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').startsWith('application/json')) parsed = JSON.parse(text);
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** A request with headers fetch refuses to set (Host); resolves with status and body text. */
export function rawRequest(port: number, options: http.RequestOptions & { body?: string }): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, ...options }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface SseEvent {
  event: string;
  data: any;
}

/** Follows /api/v1/events: next() resolves with the next event that satisfies `match`. */
export async function openEvents(base: string, token: string | null = null): Promise<{ next(match?: (e: SseEvent) => boolean): Promise<SseEvent>; close(): void }> {
  const controller = new AbortController();
  const res = await fetch(`${base}/api/v1/events`, { signal: controller.signal, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const queue: SseEvent[] = [];
  const read = async (): Promise<void> => {
    const { value, done } = await reader.read();
    if (done) throw new Error('the event stream ended');
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) queue.push({ event, data: JSON.parse(data.join('\n')) });
    }
  };
  return {
    async next(match = () => true) {
      for (;;) {
        const i = queue.findIndex(match);
        if (i !== -1) return queue.splice(0, i + 1)[i];
        queue.length = 0;
        await read();
      }
    },
    close: () => controller.abort(),
  };
}

/** A stick table as persistence keeps one (key -> member id), without its expiry. */
export class TestStickTable implements StickTableLike {
  readonly maxEntries = 100;
  readonly timeout = 600_000;
  readonly counters = { hits: 7, misses: 3, expirations: 2, evictions: 1 };
  readonly #entries = new Map<string, string>();

  constructor(entries: [string, string][]) {
    for (const [k, v] of entries) this.#entries.set(k, v);
  }

  get size(): number {
    return this.#entries.size;
  }

  *entries(): Iterable<{ key: string; member: string; expiresIn: number }> {
    for (const [key, member] of this.#entries) yield { key, member, expiresIn: this.timeout };
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  clear(): number {
    const n = this.#entries.size;
    this.#entries.clear();
    return n;
  }
}
