// A real gRPC server (@grpc/grpc-js) serving grpc.health.v1.Health/Check, with the two messages
// encoded by hand here (independently of the monitor's own codec): the statuses it answers can be
// changed while it runs, and it records the service names it was asked about.

import * as grpc from '@grpc/grpc-js';
import { after } from 'node:test';

export const SERVING_STATUS = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

export interface GrpcHealthServer {
  port: number;
  /** the status answered per service name ('' = the server); a name missing here gets NOT_FOUND */
  statuses: Map<string, number>;
  /** service names asked, in order */
  asked: string[];
  close(): Promise<void>;
}

/** HealthCheckRequest{string service = 1}: the last field 1 wins, other fields skipped (only varint and length-delimited are expected) */
function decodeRequest(buf: Buffer): { service: string } {
  let service = '';
  let at = 0;
  const varint = (): number => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[at++];
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
  };
  while (at < buf.length) {
    const key = varint();
    if (key % 8 === 2) {
      const length = varint();
      if (key >>> 3 === 1) service = buf.toString('utf8', at, at + length);
      at += length;
    } else {
      varint();
    }
  }
  return { service };
}

/** HealthCheckResponse{ServingStatus status = 1}; UNKNOWN (0) is left out, as proto3 does */
function encodeResponse(r: { status: number }): Buffer {
  return r.status === 0 ? Buffer.alloc(0) : Buffer.of(0x08, r.status);
}

const HEALTH: grpc.ServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: { service: string }) => Buffer.concat([Buffer.of(0x0a, Buffer.byteLength(value.service)), Buffer.from(value.service)]),
    requestDeserialize: decodeRequest,
    responseSerialize: encodeResponse,
    responseDeserialize: (buf: Buffer) => ({ status: buf.length === 0 ? 0 : buf[1] }),
  },
};

/** A gRPC health server on loopback, cleartext or with `tls` (PEM), closed after the test file. */
export async function grpcHealthServer(statuses: Record<string, number>, tls?: { certPem: string; keyPem: string }): Promise<GrpcHealthServer> {
  const server = new grpc.Server();
  const peer: GrpcHealthServer = {
    port: 0,
    statuses: new Map(Object.entries(statuses)),
    asked: [],
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService(HEALTH, {
    Check(call: grpc.ServerUnaryCall<{ service: string }, { status: number }>, callback: grpc.sendUnaryData<{ status: number }>) {
      const { service } = call.request;
      peer.asked.push(service);
      const status = peer.statuses.get(service);
      if (status === undefined) return callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      callback(null, { status });
    },
  });
  const credentials = tls === undefined
    ? grpc.ServerCredentials.createInsecure()
    : grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) }]);
  peer.port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, port) => (err === null ? resolve(port) : reject(err))));
  after(() => peer.close());
  return peer;
}
