// Members that speak HTTP/2 for the h2/h2c member tests: a node:http2 server (h2c, or h2 over
// TLS with the test certificate), counting its sessions and requests, with a handler per stream.

import http2, { type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { atEnd } from '../../helpers/cleanup.ts';
import { h2Cert } from './h2-helpers.ts';

export interface H2Member {
  name: string;
  port: number;
  /** sessions (connections) accepted */
  sessions: number;
  /** requests: their headers, in order */
  requests: IncomingHttpHeaders[];
  live: Set<Http2Session>;
  server: http2.Http2Server | http2.Http2SecureServer;
  close(): Promise<void>;
}

export type H2Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, member: H2Member) => void;

/** Echoes method, path and the body back, with the member's name. */
export const echo: H2Handler = (stream, headers, member) => {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    if (stream.destroyed) return;
    stream.respond({ ':status': 200, 'x-member': member.name });
    stream.end(`${member.name} ${headers[':method']} ${headers[':path']} ${Buffer.concat(chunks).toString()}`);
  });
};

/** An HTTP/2 member: h2c, or h2 (TLS, ALPN h2 only) with `tls`. */
export async function startH2Member(name: string, handler: H2Handler = echo, opts: { tls?: boolean; settings?: http2.Settings } = {}): Promise<H2Member> {
  const cert = opts.tls === true ? h2Cert() : null;
  const server = cert === null
    ? http2.createServer({ settings: opts.settings })
    : http2.createSecureServer({ cert: cert.certPem, key: cert.keyPem, settings: opts.settings, ALPNProtocols: ['h2'] });
  const member: H2Member = {
    name, port: 0, sessions: 0, requests: [], live: new Set(), server,
    close: atEnd(async () => {
      for (const s of member.live) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  };
  server.on('session', (s: Http2Session) => {
    member.sessions++;
    member.live.add(s);
    s.on('close', () => member.live.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    member.requests.push(headers);
    stream.on('error', () => {});
    handler(stream, headers, member);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  member.port = (server.address() as { port: number }).port;
  return member;
}
