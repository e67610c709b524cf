// The "handles" stream engine: Node's TCP stream handles (libuv streams, the layer net.Socket is
// built on) used directly, through process.binding('tcp_wrap') and ('stream_wrap').
//
// Why: a net.Socket is a Duplex stream with two state machines, an event emitter, a request
// object per write and a few nextTicks per connection. For a balancer that only moves bytes,
// that is most of its user-space time: a bare net.Socket proxy reaches about 0.6 of HAProxy's
// new connections per second on one core, the same proxy on handles about 0.8 (bench/README.md).
// A handle costs one object, reads land in one shared buffer, a write that the kernel takes at
// once allocates nothing, and close() sends the FIN when the peer has already sent its own.
//
// process.binding() is deprecated in favour of public APIs but kept by Node 24 for exactly these
// modules; this file is the only one that touches it. loadBindings() checks the shape it needs,
// and stream-engine.ts falls back to the net.Socket engine when anything is missing.

import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { Endpoint } from '../runtime/connection-table.ts';
import type { Stream, StreamEngine, StreamOwner, StreamServer } from './stream.ts';

// --- the bindings, typed as far as we use them ----------------------------------------------

interface AddressOut {
  address?: string;
  port?: number;
}

interface RawHandle {
  /** ours: the stream this handle belongs to */
  stream?: HandleStream;
  onread: (this: RawHandle) => Buffer | undefined;
  onconnection: (this: RawHandle, err: number, client?: RawHandle) => void;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly writeQueueSize: number;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writeLatin1String(req: WriteReq, data: string): number;
  shutdown(req: ShutdownReq): number;
  close(callback?: (this: RawHandle) => void): void;
  reset(callback?: (this: RawHandle) => void): number;
  setNoDelay(on: boolean): number;
  getpeername(out: AddressOut): number;
  getsockname(out: AddressOut): number;
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  listen(backlog: number): number;
}

interface WriteReq {
  handle: RawHandle | null;
  oncomplete: (this: WriteReq, status: number) => void;
  stream: HandleStream | null;
  chunk: Buffer | null;
}
interface ShutdownReq {
  handle: RawHandle;
  oncomplete: (this: ShutdownReq, status: number) => void;
  stream: HandleStream;
}
interface ConnectReq {
  oncomplete: (this: ConnectReq, status: number, handle: RawHandle) => void;
  stream: HandleStream;
  address: string;
  port: number;
}

interface Bindings {
  TCP: new (type: number) => RawHandle;
  TCPConnectWrap: new () => ConnectReq;
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  SOCKET: number;
  SERVER: number;
  state: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
  UV_EOF: number;
  UV_ENOTCONN: number;
}

/** The bindings, or null when this Node lacks them or they changed shape. */
function loadBindings(): Bindings | null {
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const tcp = binding('tcp_wrap') as { TCP: Bindings['TCP']; TCPConnectWrap: Bindings['TCPConnectWrap']; constants: Record<string, number> };
    const stream = binding('stream_wrap') as Record<string, unknown>;
    const uv = binding('uv') as Record<string, unknown>;
    const proto = tcp.TCP?.prototype as unknown as Record<string, unknown> | undefined;
    const methods = ['readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'writeLatin1String', 'shutdown', 'close', 'reset', 'setNoDelay',
      'getpeername', 'getsockname', 'connect', 'connect6', 'bind', 'bind6', 'listen'];
    if (proto === undefined || !methods.every((m) => typeof proto[m] === 'function')) return null;
    const b: Bindings = {
      TCP: tcp.TCP,
      TCPConnectWrap: tcp.TCPConnectWrap,
      WriteWrap: stream.WriteWrap as Bindings['WriteWrap'],
      ShutdownWrap: stream.ShutdownWrap as Bindings['ShutdownWrap'],
      SOCKET: tcp.constants?.SOCKET,
      SERVER: tcp.constants?.SERVER,
      state: stream.streamBaseState as Int32Array,
      kReadBytesOrError: stream.kReadBytesOrError as number,
      kLastWriteWasAsync: stream.kLastWriteWasAsync as number,
      UV_EOF: uv.UV_EOF as number,
      UV_ENOTCONN: uv.UV_ENOTCONN as number,
    };
    const ok = typeof b.TCPConnectWrap === 'function' && typeof b.WriteWrap === 'function' && typeof b.ShutdownWrap === 'function'
      && typeof b.SOCKET === 'number' && typeof b.SERVER === 'number' && b.state instanceof Int32Array
      && [b.kReadBytesOrError, b.kLastWriteWasAsync, b.UV_EOF, b.UV_ENOTCONN].every((n) => Number.isInteger(n));
    return ok ? b : null;
  } catch {
    return null;
  }
}

const B = loadBindings();

// --- reads ----------------------------------------------------------------------------------

/** As large as what Node reads at once. */
const READ_SIZE = 64 * 1024;
/** Where every stream's reads land until it moves bulk: one buffer for the whole process. */
const SHARED = Buffer.allocUnsafeSlow(READ_SIZE);

function onRead(this: RawHandle): Buffer | undefined {
  const stream = this.stream!;
  const n = B!.state[B!.kReadBytesOrError];
  if (n > 0) return stream.read(n);
  if (n === B!.UV_EOF) stream.eof();
  else if (n < 0) stream.failed(n);
  return undefined;
}

// --- writes ---------------------------------------------------------------------------------

function newWriteReq(): WriteReq {
  const req = new B!.WriteWrap();
  req.handle = null;
  req.oncomplete = onWriteDone;
  req.stream = null;
  req.chunk = null;
  return req;
}
/** Used for every write the kernel takes at once (no request is kept); replaced when one waits. */
let spareWriteReq: WriteReq | null = null;

function onWriteDone(this: WriteReq, status: number): void {
  const stream = this.stream!;
  this.stream = null;
  this.chunk = null;
  stream.written(status);
}

function onShutdown(this: ShutdownReq, status: number): void {
  this.stream.shutDown(status);
}

function onClosed(this: RawHandle): void {
  const stream = this.stream!;
  this.stream = undefined;
  stream.owner.streamClosed(stream);
}

function onConnected(this: ConnectReq, status: number): void {
  this.stream.connected(status);
}

const NO_ENDPOINT: Endpoint = { address: '', port: 0 };

function endpointOf(read: (out: AddressOut) => number): Endpoint {
  const out: AddressOut = {};
  if (read(out) !== 0) return NO_ENDPOINT;
  return { address: out.address ?? '', port: out.port ?? 0 };
}

function errorName(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return `errno ${status}`;
  }
}

export class HandleStream implements Stream {
  readonly owner: StreamOwner;
  readonly #handle: RawHandle;
  /** the owner keeps chunks: bulk reads each get a fresh buffer */
  readonly #keepsChunks: boolean;
  readEnded = false;
  closed = false;
  /** where the next read lands: the shared buffer, or this stream's own once it moves bulk */
  #buffer: Buffer = SHARED;
  #reading = false;
  #connecting = false;
  /** writes the kernel has not taken yet */
  #queued = 0;
  /** end() was asked: the FIN goes once the queued writes are out */
  #finWanted = false;
  /** our FIN is sent */
  #finSent = false;
  /** closeAfterWrites() was asked while writes were queued */
  #closeWanted = false;
  #remote: Endpoint | null = null;
  /** byte counts, kept when the handle closes */
  #read = 0;
  #written = 0;

  constructor(handle: RawHandle, owner: StreamOwner, keepsChunks = false) {
    this.owner = owner;
    this.#handle = handle;
    this.#keepsChunks = keepsChunks;
    handle.stream = this;
    handle.onread = onRead;
    handle.useUserBuffer(SHARED);
  }

  get bytesRead(): number {
    return this.closed ? this.#read : this.#handle.bytesRead;
  }

  get bytesWritten(): number {
    return this.closed ? this.#written : this.#handle.bytesWritten;
  }

  get bytesQueued(): number {
    return this.closed ? 0 : this.#handle.writeQueueSize;
  }

  /** Starts connecting; the result comes to the owner. */
  connect(ip: string, port: number): void {
    const req = new B!.TCPConnectWrap();
    req.oncomplete = onConnected;
    req.stream = this;
    req.address = ip;
    req.port = port;
    this.#connecting = true;
    // (an IP resolved from the config: IPv6 has colons; net.isIPv6's regex costs more than the connect)
    const err = ip.includes(':') ? this.#handle.connect6(req, ip, port) : this.#handle.connect(req, ip, port);
    // Reported after connect() returns, as the asynchronous failures are.
    if (err !== 0) queueMicrotask(() => this.connected(err));
  }

  connected(status: number): void {
    this.#connecting = false;
    if (this.closed) return; // given up meanwhile (connect timeout, client gone): ECANCELED
    if (status < 0) return this.failed(status);
    this.#handle.setNoDelay(true);
    this.owner.streamConnected(this);
  }

  resume(): void {
    if (this.#reading || this.readEnded || this.closed || this.#connecting) return;
    this.#reading = true;
    const err = this.#handle.readStart();
    if (err !== 0) this.failed(err);
  }

  pause(): void {
    if (!this.#reading || this.closed) return;
    this.#reading = false;
    this.#handle.readStop();
  }

  /**
   * n bytes arrived in #buffer. Small reads are copied out of the shared buffer into Node's
   * pooled small buffers, so a write that has to wait keeps pointing at its own bytes. A read
   * that fills the buffer means bulk: from then on this stream reads into a buffer of its own
   * and hands it on without copying; when a write of it has to wait, the next read gets a new
   * one (Node calls onread's return value the next read buffer). Memory goes only to streams
   * that move bulk, as HAProxy allocates its buffers on demand.
   */
  read(n: number): Buffer | undefined {
    const buffer = this.#buffer;
    let chunk: Buffer;
    if (buffer === SHARED) {
      chunk = Buffer.allocUnsafe(n);
      SHARED.copy(chunk, 0, 0, n);
    } else {
      chunk = buffer.subarray(0, n);
    }
    const flowing = this.owner.streamData(this, chunk);
    if (!flowing) this.pause();
    if (buffer === SHARED ? n === READ_SIZE : !flowing || this.#keepsChunks) return (this.#buffer = Buffer.allocUnsafeSlow(READ_SIZE));
    return undefined;
  }

  get writeEnded(): boolean {
    return this.#finWanted || this.#finSent;
  }

  eof(): void {
    this.#reading = false; // libuv stops reading at EOF
    this.readEnded = true;
    this.owner.streamEnd(this);
    if (this.#finSent) this.close();
  }

  write(chunk: Buffer): boolean {
    if (this.closed) return true;
    const req = (spareWriteReq ??= newWriteReq());
    req.handle = this.#handle;
    return this.#afterWrite(req, this.#handle.writeBuffer(req, chunk), chunk);
  }

  writeLatin1(text: string): boolean {
    if (this.closed) return true;
    const req = (spareWriteReq ??= newWriteReq());
    req.handle = this.#handle;
    // (what a queued string write needs, Node copies into the request itself)
    return this.#afterWrite(req, this.#handle.writeLatin1String(req, text), null);
  }

  /** After a write call: false when it was queued (libuv keeps pointing at `chunk` until then). */
  #afterWrite(req: WriteReq, err: number, chunk: Buffer | null): boolean {
    if (err !== 0) {
      this.failed(err);
      return true;
    }
    if (B!.state[B!.kLastWriteWasAsync] === 0) return true;
    // the request now belongs to that write
    spareWriteReq = null;
    req.stream = this;
    req.chunk = chunk;
    this.#queued++;
    return false;
  }

  written(status: number): void {
    this.#queued--;
    if (this.closed) return;
    if (status < 0) return this.failed(status);
    if (this.#queued !== 0) return;
    if (this.#closeWanted) return this.close();
    if (this.#finWanted) this.#shutdown();
    if (!this.closed) this.owner.streamDrained(this);
  }

  closeAfterWrites(): void {
    if (this.closed) return;
    if (this.#queued === 0) return this.close();
    this.#closeWanted = true;
  }

  end(): void {
    if (this.closed || this.#finWanted || this.#finSent) return;
    if (this.#queued !== 0) {
      this.#finWanted = true;
      return;
    }
    this.#shutdown();
  }

  #shutdown(): void {
    this.#finWanted = false;
    this.#finSent = true;
    // The peer has finished too and nothing is queued: close() sends our FIN, one system call less.
    if (this.readEnded) return this.close();
    const req = new B!.ShutdownWrap();
    req.oncomplete = onShutdown;
    req.handle = this.#handle;
    req.stream = this;
    const err = this.#handle.shutdown(req);
    if (err === 1 || err === B!.UV_ENOTCONN) return this.shutDown(0);
    if (err !== 0) this.failed(err);
  }

  shutDown(status: number): void {
    if (this.closed) return;
    if (status < 0 && status !== B!.UV_ENOTCONN) return this.failed(status);
    if (this.readEnded) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.#closing();
    this.#handle.close(onClosed);
  }

  reset(): void {
    if (this.closed) return;
    // libuv refuses a reset while our shutdown is pending (EINVAL), and Node's handle, already
    // marked closing by then, would ignore close() too: it would never close. So a stream that
    // has sent (or is sending) its FIN, or is still connecting, closes plainly.
    if (this.#finSent || this.#connecting) return this.close();
    this.#closing();
    this.#handle.reset(onClosed);
  }

  #closing(): void {
    const handle = this.#handle;
    this.#read = handle.bytesRead;
    this.#written = handle.bytesWritten;
    this.closed = true;
    this.#reading = false;
  }

  /** A failed read, write, shutdown or connect: close, and tell the owner why. */
  failed(status: number): void {
    if (this.closed) return;
    this.close();
    this.owner.streamError(this, errorName(status));
  }

  remote(): Endpoint {
    if (this.#remote !== null) return this.#remote;
    if (this.closed) return NO_ENDPOINT;
    const handle = this.#handle;
    return (this.#remote = endpointOf((out) => handle.getpeername(out)));
  }

  local(): Endpoint {
    if (this.closed) return NO_ENDPOINT;
    const handle = this.#handle;
    return endpointOf((out) => handle.getsockname(out));
  }
}

// --- listening ------------------------------------------------------------------------------

class HandleServer implements StreamServer {
  readonly #handle: RawHandle;
  #closed = false;

  constructor(handle: RawHandle) {
    this.#handle = handle;
  }

  address(): Endpoint {
    const handle = this.#handle;
    return endpointOf((out) => handle.getsockname(out));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
  }
}

function listenError(syscall: string, err: number, ip: string, port: number): Error {
  const code = errorName(err);
  return Object.assign(new Error(`${syscall} ${code}: ${ip}:${port}`), { code });
}

export const handleEngine: StreamEngine | null = B === null ? null : {
  name: 'handles',

  async listen(ip, port, backlog, accept, onError) {
    const handle = new B.TCP(B.SERVER);
    // (libuv reports EADDRINUSE at listen(), not bind())
    let syscall = 'bind';
    let err = net.isIPv6(ip) ? handle.bind6(ip, port, 0) : handle.bind(ip, port);
    if (err === 0) {
      syscall = 'listen';
      err = handle.listen(backlog);
    }
    if (err !== 0) {
      handle.close();
      throw listenError(syscall, err, ip, port);
    }
    handle.onconnection = function onConnection(status, client) {
      // EMFILE and the like: the client stays in the backlog; say so, keep listening
      if (status !== 0 || client === undefined) return onError(listenError('accept', status, ip, port));
      client.setNoDelay(true);
      accept(client);
    };
    return new HandleServer(handle);
  },

  peerAddress(client) {
    return endpointOf((out) => (client as RawHandle).getpeername(out)).address;
  },

  adopt(client, owner, keepsChunks) {
    return new HandleStream(client as RawHandle, owner, keepsChunks);
  },

  connect(ip, port, owner, keepsChunks) {
    const stream = new HandleStream(new B.TCP(B.SOCKET), owner, keepsChunks);
    stream.connect(ip, port);
    return stream;
  },
};
