// http / https: one request on a fresh connection (a new agent per check), closed after the verdict.
// Up when the status is in one of the expected ranges and, with expectBody, the first maxBody
// bytes of the body match. The body is never read past maxBody; HEAD and checks without
// expectBody do not read it at all.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { hostPort, uriHost } from '../../config/address.ts';
import type { HttpMonitor, MonitorTls } from '../../config/health-types.ts';
import type { CheckResult, CheckTarget, Monitor } from '../monitor.ts';
import { errorReason } from './common-reasons.ts';
import { compileMatcher } from './match.ts';

export function createHttpMonitor(config: HttpMonitor): Monitor {
  const secure = config.type === 'https';
  const matcher = config.expectBody === null ? null : compileMatcher(config.expectBody);
  const body = config.body === null ? null : Buffer.from(config.body, 'utf8');
  const readBody = matcher !== null && config.method !== 'HEAD';
  const maxBody = config.maxBody;
  const defaultPort = secure ? 443 : 80;
  // TLS material is read and parsed once, here: a bad file stops the config, not every check
  const secureContext = secure ? tlsContext(config.tls, 'https monitor') : undefined;

  const headers: Record<string, string> = { 'user-agent': 'furiwake-health' };
  for (const [name, value] of Object.entries(config.headers)) headers[name.toLowerCase()] = value;
  if (body !== null) headers['content-length'] = String(body.length);

  return {
    run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
      return new Promise((resolve) => {
        if (signal.aborted) return resolve({ up: false, reason: 'aborted' });
        let verdict: CheckResult | null = null;
        const host = headers.host ?? config.host ?? hostHeader(target.host, target.port, defaultPort);
        // a fresh agent per check is what `agent: false` does; owning it lets the check see its
        // socket, so it settles only once that socket is closed (even when aborted before node
        // hands the socket to the request)
        const agent = secure ? new https.Agent({ keepAlive: false }) : new http.Agent({ keepAlive: false });
        let socket: Duplex | undefined;
        const connect = agent.createConnection;
        agent.createConnection = (...args: Parameters<typeof connect>) => {
          socket = connect.apply(agent, args) ?? undefined;
          return socket;
        };
        const options: https.RequestOptions & { secureContext?: tls.SecureContext } = {
          host: target.ip,
          port: target.port,
          method: config.method,
          path: config.path,
          headers: { ...headers, host },
          agent,
        };
        if (secure) {
          // '' = no SNI: node would otherwise derive one from the Host header
          options.servername = config.tls.sni ?? (net.isIP(target.host) === 0 ? target.host : '');
          options.rejectUnauthorized = config.tls.verify;
          if (secureContext !== undefined) options.secureContext = secureContext;
        }
        const req = (secure ? https : http).request(options);

        // the verdict is given once; the promise settles when the request and its socket closed
        const decide = (result: CheckResult): void => {
          if (verdict !== null) return;
          verdict = result;
          signal.removeEventListener('abort', onAbort);
          req.destroy();
          socket?.destroy();
        };
        const onAbort = (): void => decide({ up: false, reason: 'aborted' });
        signal.addEventListener('abort', onAbort, { once: true });
        req.on('close', () => {
          decide({ up: false, reason: 'connection closed before a response' });
          if (socket === undefined || socket.closed) return resolve(verdict!);
          socket.once('close', () => resolve(verdict!));
        });
        req.on('error', (err) => decide({ up: false, reason: requestErrorReason(err, secure) }));

        req.on('response', (res) => {
          const status = res.statusCode ?? 0;
          res.on('error', (err) => decide({ up: false, reason: requestErrorReason(err, secure) }));
          const inRange = config.expectStatus.some(([low, high]) => status >= low && status <= high);
          if (!inRange || !readBody) return decide({ up: inRange, reason: `status ${status}` });
          // only the first maxBody bytes are ever kept
          let kept = Buffer.alloc(0);
          let size = 0;
          const bodyMatched = (): boolean => matcher!.test(kept);
          res.on('data', (chunk: Buffer) => {
            if (verdict !== null) return;
            kept = Buffer.concat([kept, chunk.subarray(0, maxBody - kept.length)]);
            size += chunk.length;
            if (bodyMatched()) return decide({ up: true, reason: `status ${status}` });
            if (size >= maxBody) decide({ up: false, reason: `body did not match ${matcher!.describe}` });
          });
          res.on('end', () => decide(bodyMatched()
            ? { up: true, reason: `status ${status}` }
            : { up: false, reason: `body did not match ${matcher!.describe}` }));
        });
        req.end(body ?? undefined);
      });
    },
  };
}

/** host[:port], the port left out when it is the scheme's default; IPv6 literals in brackets */
function hostHeader(host: string, port: number, defaultPort: number): string {
  return port === defaultPort ? uriHost(host) : hostPort(host, port);
}

/** The monitor's CA and client certificate, read once; `monitor` names it in errors. */
export function tlsContext(options: MonitorTls, monitor: string): tls.SecureContext | undefined {
  if (options.ca === null && options.cert === null && options.key === null) return undefined;
  const read = (what: string, path: string | null): Buffer | undefined => {
    if (path === null) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${monitor}: cannot read tls ${what} file ${path}: ${(err as Error).message}`);
    }
  };
  const ca = read('ca', options.ca);
  const cert = read('cert', options.cert);
  const key = read('key', options.key);
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(`${monitor}: a client certificate needs both tls cert and tls key (${cert === undefined ? 'cert' : 'key'} is missing)`);
  }
  try {
    return tls.createSecureContext({ ca, cert, key });
  } catch (err) {
    const files = [options.ca, options.cert, options.key].filter((f) => f !== null).join(', ');
    throw new Error(`${monitor}: bad TLS file (${files}): ${(err as Error).message}`);
  }
}

/**
 * In words: OpenSSL's errors by their short reason ("wrong version number"); certificate checks
 * by node's message ("self-signed certificate"); node's "socket hang up" (the server closed
 * without a response); HTTP parse errors; system errors by name ("connection refused").
 */
function requestErrorReason(err: NodeJS.ErrnoException, secure: boolean): string {
  const code = err.code ?? '';
  const { reason, library } = err as { reason?: unknown; library?: unknown };
  if (err.message === 'socket hang up') return 'connection closed before a response';
  if (code.startsWith('HPE_')) return `invalid HTTP response: ${typeof reason === 'string' ? reason : err.message}`;
  if (secure && typeof library === 'string' && typeof reason === 'string') return `TLS: ${reason}`;
  // the same, when it comes as a system error (EPROTO) with OpenSSL's text in the message
  const openssl = secure ? /error:[0-9A-F]+:[^:]+:[^:]*:([^:]+):/.exec(err.message) : null;
  if (openssl !== null) return `TLS: ${openssl[1]}`;
  if (secure && code !== '' && !/^E[A-Z0-9]+$/.test(code)) {
    // node adds advice for its users to certificate errors; an empty altname list ends in ": "
    return `TLS: ${err.message.replace(/; if the root CA is installed locally.*$/s, '').replace(/[:\s]+$/, '')}`;
  }
  return errorReason(err);
}
