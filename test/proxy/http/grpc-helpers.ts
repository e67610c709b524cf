// gRPC peers for the tests, with hand-written service definitions (messages are raw Buffers: no
// .proto compiler): a grpc-js server answering with its own name, and a client for it.

import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { atEnd } from '../../helpers/cleanup.ts';

const raw = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };

/** test.Echo: Unary (answers "<server> <request>"), Stream (n answers), Slow (answers after the request's number of ms), Fail (status in the request). */
export const echoService: grpc.ServiceDefinition = {
  Unary: { path: '/test.Echo/Unary', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
  Stream: { path: '/test.Echo/Stream', requestStream: false, responseStream: true, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
  Slow: { path: '/test.Echo/Slow', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
  Fail: { path: '/test.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
};

export interface GrpcMember {
  name: string;
  port: number;
  calls: number;
  /** calls the client (furiwake) cancelled */
  cancelled: number;
  /** emits 'cancelled' */
  events: EventEmitter;
  server: grpc.Server;
  close(): Promise<void>;
}

export async function startGrpcMember(name: string): Promise<GrpcMember> {
  const server = new grpc.Server();
  const member: GrpcMember = {
    name, port: 0, calls: 0, cancelled: 0, events: new EventEmitter(), server,
    close: atEnd(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve()))),
  };
  server.addService(echoService, {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      member.calls++;
      cb(null, Buffer.from(`${name} ${call.request.toString()}`));
    },
    Stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      member.calls++;
      const n = Number(call.request.toString());
      for (let i = 0; i < n; i++) call.write(Buffer.from(`${name} ${i}`));
      call.end();
    },
    Slow: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      member.calls++;
      const timer = setTimeout(() => cb(null, Buffer.from('late')), Number(call.request.toString()));
      call.on('cancelled', () => {
        clearTimeout(timer);
        member.cancelled++;
        member.events.emit('cancelled');
      });
    },
    Fail: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      member.calls++;
      cb({ code: Number(call.request.toString()), details: `failed by ${name}` });
    },
  });
  member.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err === null ? resolve(port) : reject(err))));
  return member;
}

type Unary = (req: Buffer, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => grpc.ClientUnaryCall;

export interface EchoClient extends grpc.Client {
  Unary: Unary;
  Slow: Unary;
  Fail: Unary;
  Stream(req: Buffer, meta?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientReadableStream<Buffer>;
}

const EchoClientClass = grpc.makeGenericClientConstructor(echoService, 'Echo');

/** A client over one channel to the service at `port` (h2c). */
export function grpcClient(port: number): EchoClient {
  const client = new EchoClientClass(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
  atEnd(async () => client.close());
  return client;
}

/** One unary call: the answer, or the error's status code and details. */
export function call(fn: Unary, client: grpc.Client, request: string, deadlineMs?: number): Promise<{ ok: string } | { code: number; details: string }> {
  return new Promise((resolve) => {
    const opts: grpc.CallOptions = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
    fn.call(client, Buffer.from(request), new grpc.Metadata(), opts, (err, res) => {
      resolve(err === null ? { ok: res!.toString() } : { code: err.code, details: err.details });
    });
  });
}
