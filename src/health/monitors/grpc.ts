// grpc: one grpc.health.v1.Health/Check call over HTTP/2 (TLS with ALPN h2, or cleartext h2 by
// prior knowledge) on a fresh connection, closed after the verdict. Up when the call ends with
// grpc-status 0 and the answer says SERVING; down with the reason otherwise (NOT_SERVING,
// SERVICE_UNKNOWN, a gRPC error status and its message, an HTTP answer that is not gRPC).

import http2 from 'node:http2';
import net from 'node:net';
import type tls from 'node:tls';
import { hostPort } from '../../config/address.ts';
import type { GrpcMonitor } from '../../config/health-types.ts';
import type { Monitor } from '../monitor.ts';
import { errorReason } from './common-reasons.ts';
import { encodeCheckRequest, grpcStatusReason, MAX_GRPC_REPLY, parseCheckReply, SERVING, servingStatusName } from './grpc-reply.ts';
import { tlsContext } from './http.ts';
import { runCheck } from './proto-check.ts';

const PATH = '/grpc.health.v1.Health/Check';
const GOAWAY = 'the server closed the connection (GOAWAY) before an answer';
/** the frame header (5 bytes) and the longest message read */
const MAX_BODY = 5 + MAX_GRPC_REPLY;

export function createGrpcMonitor(config: GrpcMonitor): Monitor {
  const request = encodeCheckRequest(config.service);
  // TLS material is read and parsed once, here: a bad file stops the config, not every check
  const secureContext = config.tls === null ? undefined : tlsContext(config.tls, 'grpc monitor');
  const scheme = config.tls === null ? 'http' : 'https';
  const named = config.service === '' ? '' : ` (service ${JSON.stringify(config.service)})`;

  return {
    run(target, signal) {
      return runCheck(signal, (scope) => {
        const options: http2.SecureClientSessionOptions & { secureContext?: tls.SecureContext } = {
          settings: { enablePush: false },
          maxHeaderListPairs: 64,
        };
        if (config.tls !== null) {
          const sni = config.tls.sni ?? (net.isIP(target.host) === 0 ? target.host : '');
          if (sni !== '') options.servername = sni;
          options.rejectUnauthorized = config.tls.verify;
          if (secureContext !== undefined) options.secureContext = secureContext;
        }
        const session = http2.connect(`${scheme}://${hostPort(target.ip, target.port)}`, options);
        scope.defer(() => session.destroy());
        session.on('error', (err) => scope.down(sessionErrorReason(err, config.tls !== null)));
        session.on('close', () => scope.down(goaway ? GOAWAY : 'connection closed before an answer'));
        // a server going away before it answers ends the stream without an answer
        let goaway = false;
        session.on('goaway', () => (goaway = true));

        const stream = session.request({
          ':method': 'POST',
          ':path': PATH,
          ':authority': config.authority ?? hostPort(target.host, target.port),
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': grpcTimeout(config.timeout),
          'user-agent': 'furiwake-health',
        });
        let responded = false;
        let grpcStatus: string | undefined;
        let grpcMessage: string | undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        const statusOf = (headers: http2.IncomingHttpHeaders): void => {
          const status = headers['grpc-status'];
          if (typeof status === 'string') {
            grpcStatus = status;
            const message = headers['grpc-message'];
            grpcMessage = typeof message === 'string' ? message : undefined;
          }
        };

        stream.on('error', (err: NodeJS.ErrnoException) => scope.down(err.code === 'ERR_HTTP2_STREAM_ERROR'
          ? `stream reset by the server (${h2ErrorName(stream.rstCode ?? 0)})`
          : sessionErrorReason(err, config.tls !== null)));
        stream.on('response', (headers) => {
          responded = true;
          const status = headers[':status'];
          if (status !== 200) return scope.down(`HTTP status ${status}, not a gRPC answer`);
          const type = headers['content-type'];
          if (typeof type !== 'string' || !/^application\/grpc(?:$|[+;])/.test(type)) {
            return scope.down(`not a gRPC answer (content-type ${type === undefined ? 'missing' : JSON.stringify(type.slice(0, 60))})`);
          }
          statusOf(headers); // a trailers-only answer carries grpc-status here
        });
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY) return scope.down(`answer larger than ${MAX_BODY} bytes`);
          chunks.push(chunk);
        });
        stream.on('trailers', statusOf);
        stream.on('end', () => {
          if (!responded) return scope.down(goaway ? GOAWAY : 'the stream ended without an answer (is it an HTTP/2 server?)');
          if (grpcStatus === undefined) return scope.down('the answer ended without grpc-status');
          if (grpcStatus !== '0') return scope.down(grpcStatusReason(grpcStatus, grpcMessage));
          const serving = parseCheckReply(Buffer.concat(chunks));
          if (typeof serving === 'string') return scope.down(`malformed health answer: ${serving}`);
          if (serving === SERVING) return scope.up(`SERVING${named}`);
          scope.down(`${servingStatusName(serving)}${named}`);
        });
        stream.on('close', () => {
          const code = stream.rstCode;
          scope.down(code !== undefined && code !== http2.constants.NGHTTP2_NO_ERROR
            ? `stream reset by the server (${h2ErrorName(code)})`
            : 'stream closed before an answer');
        });
        stream.end(request);
      });
    },
  };
}

/** gRPC's timeout header: at most 8 digits, then the unit (ms up to about 27 hours, else seconds). */
function grpcTimeout(ms: number): string {
  return ms <= 99_999_999 ? `${ms}m` : `${Math.ceil(ms / 1000)}S`;
}

/** HTTP/2 error codes by number (RFC 9113 7), for reasons. */
const H2_ERRORS: readonly string[] = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR',
  'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

function h2ErrorName(code: number): string {
  return H2_ERRORS[code] ?? `error code ${code}`;
}

/**
 * In words. A peer that does not speak HTTP/2 (an HTTP/1.1 server answering the preface with a
 * 400, a TLS server without h2 in ALPN) ends in a protocol error or a closed session.
 */
function sessionErrorReason(error: NodeJS.ErrnoException, secure: boolean): string {
  // a stream cancelled because its session failed carries the session's error
  const err = error.code === 'ERR_HTTP2_STREAM_CANCEL' && error.cause instanceof Error ? error.cause as NodeJS.ErrnoException : error;
  const code = err.code ?? '';
  if (code === 'ERR_HTTP2_GOAWAY_SESSION') return GOAWAY;
  if (code === 'ERR_HTTP2_ERROR' || code === 'ERR_HTTP2_SESSION_ERROR' || code === 'ERR_HTTP2_STREAM_ERROR') {
    const h2 = /code (\d+)/.exec(err.message);
    const name = h2 === null ? err.message : h2ErrorName(Number(h2[1]));
    return `HTTP/2 ${name} (is it an HTTP/2 server?)`;
  }
  const { reason, library } = err as { reason?: unknown; library?: unknown };
  if (secure && typeof library === 'string' && typeof reason === 'string') {
    return reason.endsWith('no application protocol') ? `TLS: ${reason} (the server does not offer h2)` : `TLS: ${reason}`;
  }
  if (secure && code !== '' && !/^E[A-Z0-9]+$/.test(code) && !code.startsWith('ERR_HTTP2')) {
    return `TLS: ${err.message.replace(/; if the root CA is installed locally.*$/s, '').replace(/[:\s]+$/, '')}`;
  }
  return errorReason(err);
}
