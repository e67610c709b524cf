// Peers for the http data-plane tests: members (node http servers that count the connections
// they accept and record the requests they get), raw clients that write exact bytes and read
// what comes back, and configs for one http service.

import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { HttpServiceConfig } from '../../../src/config/http-types.ts';
import type { Config, PoolConfig, ServiceConfig } from '../../../src/config/types.ts';
import { atEnd } from '../../helpers/cleanup.ts';
import { service } from '../../helpers/config.ts';
import { closeServer, listenOnLoopback } from '../../helpers/servers.ts';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** the balancer's address:port the request came from (which member connection) */
  peer: string;
}

export interface HttpMember {
  name: string;
  port: number;
  server: http.Server;
  /** connections accepted so far */
  accepted: number;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export type MemberHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

/** By default a member answers `name METHOD url` with a Content-Length. */
export function defaultHandler(name: string): MemberHandler {
  return (req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`${name} ${req.method} ${req.url}`);
  };
}

/**
 * A node http member, closed by the test or else when the test file ends. `stream` hands the
 * request over before its body is read (the handler reads it), for uploads that must not be buffered.
 */
export async function startMember(name: string, handler: MemberHandler = defaultHandler(name), opts: { stream?: boolean } = {}): Promise<HttpMember> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const seen: SeenRequest = {
      method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0),
      peer: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
    };
    member.requests.push(seen);
    if (opts.stream === true) return handler(req, res, seen.body);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.body = Buffer.concat(chunks);
      handler(req, res, seen.body);
    });
  });
  server.on('connection', (socket: net.Socket) => {
    member.accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const member: HttpMember = {
    name, port: 0, server, accepted: 0, requests: [],
    close: atEnd(() => closeServer(server, sockets)),
  };
  member.port = await listenOnLoopback(server);
  return member;
}

/** One http service `svc` in front of `p`, with http settings changed as given. */
export function httpConfig(p: PoolConfig, settings: Partial<HttpServiceConfig> = {}, extra: Partial<ServiceConfig> = {}): Config {
  const base = service('http', 'p', extra);
  return {
    global: { shutdownGrace: 1_000, logLevel: 'silent' },
    services: { svc: { ...base, http: { ...base.http!, ...settings } } },
    pools: { p },
  } as Config;
}

export interface RawResponse {
  /** everything the balancer sent, as latin1 text */
  text: string;
  /** the status code of the first response, 0 when there was none */
  status: number;
  /** the connection was closed by the balancer (FIN) rather than reset */
  ending: 'end' | 'reset';
}

/**
 * Writes `data` (pieces written one after the other) on a new connection and reads until the
 * balancer closes it. The client half-closes only when `halfClose` is set.
 */
export function raw(port: number, data: string | Buffer | (string | Buffer)[], opts: { halfClose?: boolean } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const done = (ending: 'end' | 'reset'): void => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: m === null ? 0 : Number(m[1]), ending });
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? done('reset') : reject(err)));
    socket.on('end', () => {
      socket.end();
      done('end');
    });
    socket.on('connect', () => {
      for (const piece of Array.isArray(data) ? data : [data]) socket.write(piece);
      if (opts.halfClose === true) socket.end();
    });
  });
}

/** A client connection that sends requests one at a time and reads each response (keep-alive). */
export async function connection(port: number): Promise<{ socket: net.Socket; send(text: string | Buffer, until?: (got: string) => boolean): Promise<string>; close(): Promise<void> }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.on('error', () => {});
  let buffered = '';
  let waiter: (() => void) | null = null;
  socket.on('data', (c: Buffer) => {
    buffered += c.toString('latin1');
    waiter?.();
  });
  socket.on('end', () => waiter?.());
  return {
    socket,
    /** Sends, then resolves with what came once `until` holds (by default: one complete response with a Content-Length). */
    send(text, until = completeResponse) {
      socket.write(text);
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (until(buffered)) {
            waiter = null;
            const got = buffered;
            buffered = '';
            resolve(got);
          } else if (socket.readableEnded) {
            reject(new Error(`connection ended before the response; got ${JSON.stringify(buffered)}`));
          }
        };
        waiter = check;
        check();
      });
    },
    async close() {
      // destroyed is not closed yet: the handle goes at its 'close', which is awaited either way
      if (socket.closed) return;
      if (!socket.destroyed) {
        socket.end();
        socket.resume();
      }
      await once(socket, 'close');
    },
  };
}

/** A whole response whose body is framed by Content-Length. */
export function completeResponse(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
  return text.length >= end + 4 + (m === null ? 0 : Number(m[1]));
}

/** The value of a header in a raw response head (first occurrence), or undefined. */
export function headerOf(text: string, name: string): string | undefined {
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  const m = new RegExp(`\\r\\n${name}: *([^\\r]*)`, 'i').exec(head);
  return m?.[1];
}

/** The body of a raw response with a Content-Length. */
export function bodyOf(text: string): string {
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}
