// Peers for the HTTP/2 tests: an https or h2c service in front of HTTP/1.1 members, and a Node
// http2 client whose requests resolve with the status, headers, body and trailers that came.

import http2 from 'node:http2';
import type { Furiwake } from '../../../src/app.ts';
import type { HttpServiceConfig } from '../../../src/config/http-types.ts';
import type { PoolConfig, ServiceConfig } from '../../../src/config/types.ts';
import { startApp } from '../../helpers/app.ts';
import { certDir, selfSigned, type CertFiles } from './certs.ts';
import { httpConfig } from './helpers.ts';

let cert: CertFiles | null = null;

/** The certificate of the test services (www.h2.test), made once per test file. */
export function h2Cert(): CertFiles {
  return (cert ??= selfSigned(certDir(), 'h2', ['www.h2.test']));
}

/** An https service (ALPN h2 and http/1.1 unless `settings` says otherwise) in front of `p`. */
export async function httpsService(p: PoolConfig, settings: Partial<HttpServiceConfig> = {}, alpn: ('h2' | 'http/1.1')[] = ['h2', 'http/1.1']): Promise<{ app: Furiwake; port: number }> {
  const c = h2Cert();
  const tls = { certificates: [{ certFile: c.cert, keyFile: c.key, cert: c.certPem, key: c.keyPem, names: ['www.h2.test'] }], minVersion: 'TLSv1.2' as const, alpn };
  const app = await startApp(httpConfig(p, { tls, ...settings }));
  return { app, port: app.address('svc').port };
}

/** A plain http service that also takes HTTP/2 by prior knowledge (h2c). */
export async function h2cService(p: PoolConfig, settings: Partial<HttpServiceConfig> = {}, extra: Partial<ServiceConfig> = {}): Promise<{ app: Furiwake; port: number }> {
  const http2Settings = { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100, ...settings.http2 };
  const app = await startApp(httpConfig(p, { ...settings, http2: http2Settings }, extra));
  return { app, port: app.address('svc').port };
}

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | null;
}

/** A client session to the service: https (certificate not checked) or h2c. */
export function h2Connect(port: number, https: boolean): http2.ClientHttp2Session {
  const session = https
    ? http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'www.h2.test' })
    : http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  return session;
}

/** One request on `session`; resolves when the response has ended. */
export function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | string, trailers?: http2.OutgoingHttpHeaders): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const waitForTrailers = trailers !== undefined;
    const req = session.request({ ':path': '/', ...headers }, { endStream: body === undefined && !waitForTrailers, waitForTrailers });
    if (waitForTrailers) req.on('wantTrailers', () => req.sendTrailers(trailers));
    const got: H2Response = { status: 0, headers: {}, body: Buffer.alloc(0), trailers: null };
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      got.status = Number(h[':status']);
      got.headers = h;
    });
    req.on('trailers', (t) => (got.trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.body = Buffer.concat(chunks);
      resolve(got);
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else if (waitForTrailers) req.end();
  });
}
