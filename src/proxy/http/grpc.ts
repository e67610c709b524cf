// gRPC as the HTTP/2 client side sees it: the request's deadline (grpc-timeout) and furiwake's own
// errors told the way gRPC clients read them, HTTP 200 with a grpc-status (a gRPC client takes
// an HTML 503 for a broken server, not for "try again").

import type { OutgoingHttpHeaders } from 'node:http2';

export const GrpcStatus = { UNKNOWN: 2, DEADLINE_EXCEEDED: 4, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

/** A request of gRPC's: its content-type is application/grpc (or application/grpc+proto, ...). */
export function isGrpc(contentType: string): boolean {
  return contentType.startsWith('application/grpc') && (contentType.length === 16 || contentType.charCodeAt(16) === 0x2b /* + */ || contentType.charCodeAt(16) === 0x3b /* ; */);
}

const UNITS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000001 };

/**
 * A grpc-timeout value (1 to 8 digits and a unit: H M S m u n) in ms, at least 1; -1 when it
 * is not one (the call then has no deadline of ours, as gRPC servers treat it).
 */
export function grpcTimeout(value: string): number {
  const n = value.length - 1;
  if (n < 1 || n > 8) return -1;
  const unit = UNITS[value[n]];
  if (unit === undefined) return -1;
  let digits = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    digits = digits * 10 + c;
  }
  return Math.max(1, Math.ceil(digits * unit));
}

/** The gRPC status for one of furiwake's HTTP errors (gRPC's own HTTP-to-status mapping). */
export function grpcStatusOf(httpStatus: number): number {
  switch (httpStatus) {
    case 400: return GrpcStatus.INTERNAL;
    case 401: return GrpcStatus.UNAUTHENTICATED;
    case 403: return GrpcStatus.PERMISSION_DENIED;
    case 404: return GrpcStatus.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return GrpcStatus.UNAVAILABLE;
    default: return GrpcStatus.UNKNOWN;
  }
}

/** A trailers-only response (headers with END_STREAM) carrying `status` and `message`. */
export function grpcErrorHeaders(contentType: string, status: number, message: string): OutgoingHttpHeaders {
  // grpc-message is percent-encoded (its grammar is printable ASCII without %)
  return { ':status': 200, 'content-type': contentType, 'grpc-status': String(status), 'grpc-message': encodeURIComponent(message) };
}
