// The admin HTTP server: the dashboard's files, /metrics, and the JSON API under /api/v1.
// Every request passes the same gates in order: a Host that belongs to this listener (DNS
// rebinding), a known route and method, the token when the route needs it, a same-origin check
// for writes (no browser page elsewhere can make this server act), then the query and body
// validated by the route's schemas.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type net from 'node:net';
import type { Logger } from '../log.ts';
import type { Endpoint } from '../runtime/connection-table.ts';
import { demandToken, type TokenCheck } from './auth.ts';
import { ApiError, BASE_HEADERS, sendError } from './http.ts';
import type { AdminMetrics } from './metrics.ts';
import type { RefusalReason, Refusals } from './refusals.ts';
import { readJson } from './request-body.ts';
import { ConnectionSlots } from './slots.ts';
import { match, validate, type Access, type Route } from './router.ts';
import { CSP, loadStaticFiles, type StaticFile } from './static-files.ts';

/** Socket timeouts: an admin client that says nothing for this long is let go. */
const IDLE_TIMEOUT = 30_000;
const HEADERS_TIMEOUT = 5_000;
/** the whole request, body included: a client sending a byte now and then holds no slot longer */
const REQUEST_TIMEOUT = 10_000;
/**
 * How often Node looks for requests past their deadlines: its default (30 s) would turn the 5 s
 * header deadline into 5 to 35 s, long enough for a few hundred slow clients to fill the slots.
 */
const DEADLINE_CHECK = 500;

export interface AdminServerOptions {
  routes: readonly Route[];
  metrics: AdminMetrics;
  log: Logger;
  /** the token rules now (they may change on reload) */
  auth(): { check: TokenCheck; readTokenRequired: boolean };
  /** answer only to loopback Host names */
  loopback: boolean;
  /** connections at once, in all and from one client address */
  maxConnections: number;
  maxConnectionsPerClient: number;
  /** where connections turned away or cut off are counted */
  refusals: Refusals;
  /** cuts secrets out of a text answer (redact.ts Scrubber) */
  scrub(text: string): string;
}

export class AdminServer {
  readonly #server: http.Server;
  readonly #options: AdminServerOptions;
  readonly #files: Map<string, StaticFile>;
  readonly #slots: ConnectionSlots;

  constructor(options: AdminServerOptions) {
    this.#options = options;
    this.#files = loadStaticFiles();
    this.#server = http.createServer({
      requestTimeout: REQUEST_TIMEOUT,
      headersTimeout: HEADERS_TIMEOUT,
      connectionsCheckingInterval: DEADLINE_CHECK,
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16 * 1024,
    }, (req, res) => {
      // a connection with a request being answered keeps its slot; an idle or slow one may make room
      this.#slots.busy(req.socket, 1);
      res.once('close', () => this.#slots.busy(req.socket, -1));
      void this.#handle(req, res);
    });
    // one client address cannot take every slot, and slow ones give way to a newcomer (slots.ts)
    this.#slots = new ConnectionSlots(options.maxConnections, options.maxConnectionsPerClient);
    const closed = (reason: RefusalReason, address: string | undefined): void => options.refusals.add(reason, address);
    this.#server.on('connection', (socket: net.Socket) => this.#slots.admit(socket, closed));
    this.#server.setTimeout(IDLE_TIMEOUT, (socket: net.Socket) => socket.destroy());
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') options.refusals.add('timeout', socket.remoteAddress);
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    });
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', reject);
        this.#server.on('error', (err) => this.#options.log.error({ err }, 'admin server error'));
        resolve();
      });
    });
  }

  address(): Endpoint {
    const a = this.#server.address() as net.AddressInfo;
    return { address: a.address, port: a.port };
  }

  /** Stops accepting; requests in flight get `grace` ms to finish, then every socket is closed. */
  async close(grace = 1_000): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const timer = setTimeout(() => this.#server.closeAllConnections(), grace);
    await closed;
    clearTimeout(timer);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('error', () => {});
    req.on('error', () => {});
    try {
      await this.#dispatch(req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof ApiError) {
        if (err.status === 413) res.setHeader('Connection', 'close');
        sendError(res, err);
        return;
      }
      this.#options.log.error({ err, method: req.method, url: req.url }, 'admin request failed');
      sendError(res, new ApiError(500, `internal error: ${(err as Error).message}`));
    }
  }

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin');
    } catch {
      throw new ApiError(400, 'the request target is not a valid URL');
    }
    this.#checkHost(req);
    const path = url.pathname;

    const file = this.#files.get(path);
    if (file !== undefined) return this.#serveFile(method, res, file);
    if (path === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(['GET']);
      this.#authorize(req, 'read');
      const text = this.#options.scrub(await this.#options.metrics.text());
      res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': this.#options.metrics.contentType });
      res.end(text);
      return;
    }

    const found = match(this.#options.routes, method, path);
    if (found === null) throw new ApiError(404, `no route ${path}; the routes are listed at /api/v1/openapi.json`);
    if ('allowed' in found) throw methodNotAllowed(found.allowed);
    const { route, params } = found;
    this.#authorize(req, route.access);
    if (route.access === 'write') checkSameOrigin(req);
    const query = route.query === undefined ? {} : validate(route.query, Object.fromEntries(url.searchParams), 'query');
    const raw = await readJson(req);
    if (route.body === undefined && raw !== undefined) throw new ApiError(400, `${method} ${route.path} takes no body`);
    const body = route.body === undefined ? undefined : validate(route.body, raw, 'body');
    const reply = await route.handle({ params, query, body, req, res });
    if (reply === null) return;
    const status = reply.status ?? 200;
    const text = this.#options.scrub(JSON.stringify(reply.body) + '\n');
    res.writeHead(status, { ...BASE_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  #serveFile(method: string, res: ServerResponse, file: StaticFile): void {
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(['GET']);
    res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': file.type, 'Content-Length': file.body.length, 'Content-Security-Policy': CSP });
    res.end(file.body);
  }

  #authorize(req: IncomingMessage, access: Access): void {
    const { check, readTokenRequired } = this.#options.auth();
    if (access === 'read' && !readTokenRequired) return;
    demandToken(check, req.headers.authorization, access === 'write' ? 'writes need' : 'reads need');
  }

  /**
   * A page on another site can make a browser send requests here (DNS rebinding: a name of its
   * own that resolves to 127.0.0.1). Such requests carry that name as Host; a loopback listener
   * answers only to loopback names.
   */
  #checkHost(req: IncomingMessage): void {
    if (!this.#options.loopback) return;
    const host = req.headers.host;
    if (host === undefined || isLoopbackHost(host)) return;
    throw new ApiError(421, `this admin listener is on a loopback address and answers only to loopback names (localhost, 127.0.0.1, [::1]), not ${JSON.stringify(host)}`);
  }
}

export function isLoopbackHost(hostHeader: string): boolean {
  const host = hostHeader.toLowerCase().replace(/:\d+$/, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A browser page of another origin may not write, whatever it holds. */
function checkSameOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (req.headers['sec-fetch-site'] === 'cross-site') throw new ApiError(403, 'cross-site writes are refused');
  if (origin === undefined) return;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new ApiError(403, `writes from origin ${JSON.stringify(origin)} are refused`);
  }
  if (originHost !== req.headers.host) throw new ApiError(403, `writes from origin ${origin} are refused: only pages of this server may write`);
}

function methodNotAllowed(allowed: string[]): ApiError {
  return new ApiError(405, `method not allowed; this path takes ${allowed.join(', ')}`, { headers: { Allow: allowed.join(', ') } });
}
