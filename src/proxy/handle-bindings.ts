// Node's internal TCP stream bindings (process.binding('tcp_wrap'), ('stream_wrap'), ('uv')),
// typed as far as the handles engine uses them. This file is the only one that touches
// process.binding(): Node deprecates it (DEP0111) in favour of public APIs, but Node 24 still
// provides these modules. loadBindings() is called only once the handles engine is chosen, so
// a process on the sockets engine never touches them (no DEP0111 under --pending-deprecation).

export interface AddressOut {
  address?: string;
  port?: number;
}

/** A libuv TCP handle. `S`: what the engine hangs on it (its stream). */
export interface RawHandle<S> {
  /** ours: the stream this handle belongs to */
  stream?: S;
  onread: (this: RawHandle<S>) => Buffer | undefined;
  onconnection: (this: RawHandle<S>, err: number, client?: RawHandle<S>) => void;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly writeQueueSize: number;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
  writeBuffer(req: WriteReq<S>, data: Uint8Array): number;
  writeLatin1String(req: WriteReq<S>, data: string): number;
  shutdown(req: ShutdownReq): number;
  close(callback?: (this: RawHandle<S>) => void): void;
  reset(callback?: (this: RawHandle<S>) => void): number;
  setNoDelay(on: boolean): number;
  getpeername(out: AddressOut): number;
  getsockname(out: AddressOut): number;
  connect(req: ConnectReq<S>, address: string, port: number): number;
  connect6(req: ConnectReq<S>, address: string, port: number): number;
  /** `flags`: UV_TCP_REUSEPORT (Node 24 reads them for IPv4 as for IPv6, as net.js does) */
  bind(address: string, port: number, flags: number): number;
  bind6(address: string, port: number, flags: number): number;
  listen(backlog: number): number;
}

export interface WriteReq<S> {
  handle: RawHandle<S> | null;
  oncomplete: (this: WriteReq<S>, status: number) => void;
  stream: S | null;
  chunk: Buffer | null;
}
/**
 * Node calls a shutdown's `oncomplete` only when the request has one: the engine gives it none
 * (see HandleStream.end), so its completion costs no call into JavaScript. Node's own net.js
 * sets `handle` on it for that callback; nothing in Node's C++ reads it.
 */
export type ShutdownReq = object;
/** What Node's C++ reads of a connect request is `oncomplete`; net.js adds the address and port
 * for its own error messages, which the engine makes from the stream's owner instead. */
export interface ConnectReq<S> {
  oncomplete: (this: ConnectReq<S>, status: number, handle: RawHandle<S>) => void;
  stream: S;
}

export interface Bindings<S> {
  TCP: new (type: number) => RawHandle<S>;
  TCPConnectWrap: new () => ConnectReq<S>;
  WriteWrap: new () => WriteReq<S>;
  ShutdownWrap: new () => ShutdownReq;
  SOCKET: number;
  SERVER: number;
  /** libuv's bind flag for SO_REUSEPORT; undefined on a Node.js whose binding has none */
  UV_TCP_REUSEPORT: number | undefined;
  /** where a read's byte count (or error) and "the last write was queued" are reported */
  state: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
  UV_EOF: number;
  UV_ENOTCONN: number;
}

const METHODS = ['readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'writeLatin1String', 'shutdown', 'close', 'reset', 'setNoDelay',
  'getpeername', 'getsockname', 'connect', 'connect6', 'bind', 'bind6', 'listen'];

type BindingFn = (name: string) => Record<string, unknown>;

function processBinding(): BindingFn | undefined {
  return (process as unknown as { binding?: BindingFn }).binding;
}

/**
 * Whether Node reports process.binding() as deprecated when called (DEP0111): it does under
 * --pending-deprecation (or NODE_PENDING_DEPRECATION=1), by wrapping it with util.deprecate;
 * the flag itself is looked for too, should a later Node wrap it otherwise.
 */
export function bindingsWarn(): boolean {
  if (processBinding()?.name === 'deprecated' || process.env.NODE_PENDING_DEPRECATION === '1') return true;
  const flag = (arg: string): boolean => arg === '--pending-deprecation';
  return process.execArgv.some(flag) || (process.env.NODE_OPTIONS ?? '').split(/\s+/).some(flag);
}

/**
 * The bindings, checked for the shape the engine needs. Throws an Error saying why not when
 * process.binding() throws (Node's permission model), would end the process (its deprecation
 * warning under --throw-deprecation is thrown on the next tick, out of reach of any catch), or
 * this Node's internals changed.
 */
export function loadBindings<S>(): Bindings<S> {
  const binding = processBinding();
  if (typeof binding !== 'function') throw new Error('this Node.js has no process.binding()');
  if (bindingsWarn() && (process as { throwDeprecation?: boolean }).throwDeprecation === true) {
    throw new Error('process.binding() is deprecated (DEP0111) and this Node.js throws on deprecations (--pending-deprecation with --throw-deprecation)');
  }
  let tcp: { TCP?: Bindings<S>['TCP']; TCPConnectWrap?: Bindings<S>['TCPConnectWrap']; constants?: Record<string, number> };
  let stream: Record<string, unknown>;
  let uv: Record<string, unknown>;
  try {
    tcp = binding.call(process, 'tcp_wrap');
    stream = binding.call(process, 'stream_wrap');
    uv = binding.call(process, 'uv');
  } catch (err) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (code === 'ERR_ACCESS_DENIED') throw new Error("process.binding() is denied by Node's permission model (--permission)");
    throw new Error(`process.binding() failed: ${String(message)}`);
  }
  const proto = tcp.TCP?.prototype as unknown as Record<string, unknown> | undefined;
  if (proto === undefined) throw new Error("process.binding('tcp_wrap') has no TCP");
  const missing = METHODS.filter((m) => typeof proto[m] !== 'function');
  if (missing.length > 0) throw new Error(`process.binding('tcp_wrap').TCP lacks ${missing.join(', ')}`);
  const b = {
    TCP: tcp.TCP,
    TCPConnectWrap: tcp.TCPConnectWrap,
    WriteWrap: stream.WriteWrap,
    ShutdownWrap: stream.ShutdownWrap,
    SOCKET: tcp.constants?.SOCKET,
    SERVER: tcp.constants?.SERVER,
    UV_TCP_REUSEPORT: tcp.constants?.UV_TCP_REUSEPORT,
    state: stream.streamBaseState,
    kReadBytesOrError: stream.kReadBytesOrError,
    kLastWriteWasAsync: stream.kLastWriteWasAsync,
    UV_EOF: uv.UV_EOF,
    UV_ENOTCONN: uv.UV_ENOTCONN,
  };
  const bad = [
    ...(['TCPConnectWrap', 'WriteWrap', 'ShutdownWrap'] as const).filter((k) => typeof b[k] !== 'function'),
    ...(['SOCKET', 'SERVER', 'kReadBytesOrError', 'kLastWriteWasAsync', 'UV_EOF', 'UV_ENOTCONN'] as const).filter((k) => !Number.isInteger(b[k])),
    ...(b.state instanceof Int32Array ? [] : ['streamBaseState']),
  ];
  if (bad.length > 0) throw new Error(`Node's stream bindings lack ${bad.join(', ')}`);
  return b as Bindings<S>;
}
