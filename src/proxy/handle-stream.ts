// The "handles" stream engine's stream: one of Node's TCP stream handles (the libuv stream that
// net.Socket is built on) used directly, through the bindings of handle-bindings.ts; the engine
// that listens and connects with them is handle-engine.ts.
//
// Why: a net.Socket is a Duplex stream with two state machines, an event emitter, a request
// object per write and a few nextTicks per connection. For a balancer that only moves bytes,
// that is most of its user-space time. A handle costs one object, reads land in one shared
// buffer, a write that the kernel takes at once allocates nothing, and close() sends the FIN when
// the peer has already sent its own. What that is worth, against net.Socket and HAProxy:
// `FURIWAKE_TCP_ENGINE=sockets npm run bench` beside `npm run bench` (bench/README.md).

// (imported, not the global: globalThis.Buffer is a getter, called on every use)
import { Buffer } from 'node:buffer';
import { getSystemErrorName } from 'node:util';
import type { Endpoint } from '../runtime/connection-table.ts';
import type { AddressOut, Bindings, ConnectReq, RawHandle, WriteReq } from './handle-bindings.ts';
import type { Stream, StreamOwner } from './stream.ts';

type Handle = RawHandle<HandleStream>;

/** Set by useBindings() when the handles engine is chosen; nothing here runs before. */
let B: Bindings<HandleStream> | null = null;

// --- reads ----------------------------------------------------------------------------------

/** The shared buffer, as large as what Node reads at once: a read that fills it means bulk. */
const READ_SIZE = 64 * 1024;
/**
 * A stream that moves bulk reads into buffers of its own this large (two at most, readAhead),
 * the ones it reads into again and again. Larger than a shared read: the kernel's cost per byte
 * falls with the size of each read and write (fewer system calls, wake-ups and acknowledgements
 * per MiB for both peers). 128 KiB, not 256: 256 KiB cut a 1 MiB http response's CPU by ~15%
 * against 64 KiB and 128 KiB by about half that, but a connection keeps these buffers until it
 * closes (Node adds a stream listener each time a handle's read buffer is swapped, so an idle
 * keep-alive connection cannot give them back), and 64 idle member connections per member at
 * 256 KiB would hold 32 MiB per member. An owner that keeps its chunks gets READ_SIZE buffers.
 */
const BULK_SIZE = 128 * 1024;
/** Where every stream's reads land until it moves bulk: one buffer for the whole process. */
let SHARED: Buffer = Buffer.alloc(0);

/** Makes the streams work on `bindings` (the handles engine calls it once it has loaded them). */
export function useBindings(bindings: Bindings<HandleStream>): void {
  if (B !== null) return;
  B = bindings;
  SHARED = Buffer.allocUnsafeSlow(READ_SIZE);
}

function onRead(this: Handle): Buffer | undefined {
  const stream = this.stream!;
  const n = B!.state[B!.kReadBytesOrError];
  if (n > 0) return stream.read(n);
  if (n === B!.UV_EOF) stream.eof();
  else if (n < 0) stream.failed(n);
  return undefined;
}

// --- writes ---------------------------------------------------------------------------------

/*
 * Heads (and small responses, written with their head as one string) are held until the end of
 * the event loop's turn, then written together: the writes of every request and response read
 * in one poll leave back to back, as HAProxy sends after it has processed its poll's events.
 * Written one by one as each read is handled, each write is likely to find its peer (the member,
 * the client) asleep and pay a wake-up of it on another core; written together, the first wakes
 * it and the rest find it awake. `bash bench/http-cpu.sh` (keep-alive, 50 clients): 12.9 → 12.2 µs
 * of CPU per request, most of it system time, against HAProxy's 11.2. Only strings are held: a
 * string is its own copy, where a chunk read may be a buffer the stream reads into again.
 * A held write is written before anything else happens to its stream (a write of a chunk, end,
 * close), so the bytes and the FIN keep their order; the turn's end is a setImmediate, which
 * runs after the poll's callbacks and keeps the next poll from blocking.
 * Holding is for text the kernel will take: while earlier writes still wait for it (the peer is
 * not reading), or once a turn's text passes HOLD_LIMIT, text is written at once and the owner
 * told false when it waits, so that owners keep their backpressure (an http client pipelining
 * requests it never reads the answers to has its next request wait, http-connection.ts).
 */
let heldStreams: HandleStream[] = [];
let flushQueued = false;
/** a turn's text past this is written at once: what a stream holds stays small (Node's own high-water mark) */
const HOLD_LIMIT = 16 * 1024;

function writeHeldStreams(): void {
  flushQueued = false;
  const streams = heldStreams;
  heldStreams = [];
  let thrown: { err: unknown } | null = null;
  for (let i = 0; i < streams.length; i++) {
    // a throw from one stream's owner (streamError) must not strand the other streams' text
    try {
      streams[i].writeHeld();
    } catch (err) {
      thrown ??= { err };
    }
  }
  if (thrown !== null) throw thrown.err;
}

function newWriteReq(): WriteReq<HandleStream> {
  const req = new B!.WriteWrap();
  req.handle = null;
  req.oncomplete = onWriteDone;
  req.stream = null;
  req.chunk = null;
  return req;
}
/** Used for every write the kernel takes at once (no request is kept); replaced when one waits. */
let spareWriteReq: WriteReq<HandleStream> | null = null;

function onWriteDone(this: WriteReq<HandleStream>, status: number): void {
  const stream = this.stream!;
  this.stream = null;
  this.chunk = null;
  stream.written(status);
}

function onClosed(this: Handle): void {
  const stream = this.stream!;
  this.stream = undefined;
  stream.owner.streamClosed(stream);
}

function onConnected(this: ConnectReq<HandleStream>, status: number): void {
  this.stream.connected(status);
}

const NO_ENDPOINT: Endpoint = { address: '', port: 0 };

export function endpointOf(read: (out: AddressOut) => number): Endpoint {
  const out: AddressOut = {};
  if (read(out) !== 0) return NO_ENDPOINT;
  return { address: out.address ?? '', port: out.port ?? 0 };
}

export function errorName(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return `errno ${status}`;
  }
}

export class HandleStream implements Stream {
  readonly owner: StreamOwner;
  readonly #handle: Handle;
  /** the owner keeps chunks (for now): bulk reads each get a fresh buffer */
  keepsChunks: boolean;
  readonly signalsHeldWrites = true;
  borrows = false;
  lent = false;
  readEnded = false;
  closed = false;
  /** where the next read lands: the shared buffer, or this stream's own once it moves bulk */
  #buffer: Buffer = SHARED;
  /** the other of this stream's two bulk buffers (readAhead), once it has two */
  #spare: Buffer | null = null;
  /** how many of the two bulk buffers queued writes hold (readAhead): 0; 1, reading on into the other; 2, paused */
  #held = 0;
  #reading = false;
  /** pause() calls so far: a read whose owner paused during streamData, even if it resumed since, left its chunk to a queued write */
  #pauses = 0;
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
  /**
   * byte counts, kept here as bytes come and go: an http exchange reads them at its start and end,
   * and the handle's own counters are a call into C++ each time
   */
  #read = 0;
  #written = 0;
  /** latin1 text written by the owner this turn, not yet given to the kernel (see writeHeld) */
  #heldText: string | null = null;
  /** a write returned false to the owner: streamDrained is owed when the queue empties */
  #blockedOwner = false;

  constructor(handle: Handle, owner: StreamOwner, keepsChunks = false) {
    this.owner = owner;
    this.#handle = handle;
    this.keepsChunks = keepsChunks;
    handle.stream = this;
    handle.onread = onRead;
    handle.useUserBuffer(SHARED);
  }

  get bytesRead(): number {
    return this.#read;
  }

  get bytesWritten(): number {
    return this.#written;
  }

  get bytesQueued(): number {
    return this.closed ? 0 : this.#handle.writeQueueSize + (this.#heldText === null ? 0 : this.#heldText.length);
  }

  /** Starts connecting; the result comes to the owner. */
  connect(ip: string, port: number): void {
    const req = new B!.TCPConnectWrap();
    req.oncomplete = onConnected;
    req.stream = this;
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
    // Resumed with both buffers still held (the owner did not say release()): read elsewhere.
    // (rare: the owners that read ahead say release() first; each useUserBuffer() adds a listener in Node)
    if (this.#held === 2) this.#handle.useUserBuffer(this.#fresh(BULK_SIZE));
    const err = this.#handle.readStart();
    if (err !== 0) this.failed(err);
  }

  pause(): void {
    this.#pauses++;
    if (!this.#reading || this.closed) return;
    this.#reading = false;
    this.#handle.readStop();
  }

  /**
   * n bytes arrived in #buffer. Small reads are copied out of the shared buffer into Node's
   * pooled small buffers, so a write that has to wait keeps pointing at its own bytes. A read
   * that fills the buffer means bulk: from then on this stream reads into a buffer of its own
   * and hands it on without copying. When a write of it has to wait (the owner paused reading
   * meanwhile), or its owner keeps it, the next read gets a new one (Node calls onread's return
   * value the next read buffer), but a small read for an owner that keeps chunks is copied out
   * instead. An owner that writes the chunks on may instead read ahead (readAhead): into a second
   * buffer while the write of the first waits, and both are reused once it says release().
   * Memory goes only to streams that move bulk, as HAProxy allocates its buffers on demand. An
   * owner that borrows is lent its reads of the shared buffer uncopied: most of them it only reads
   * (an http request head).
   */
  read(n: number): Buffer | undefined {
    this.#read += n;
    const buffer = this.#buffer;
    const keepsNow = this.keepsChunks;
    const lent = buffer === SHARED && this.borrows === true;
    // A small read for an owner that keeps chunks is copied out of the stream's own buffer, which
    // is read into again: kept, its bytes would pin a whole buffer (a client sending a byte per
    // read could hold a buffer per byte); a read of an eighth of it or more pins at most 8x its size.
    const copied = !lent && (buffer === SHARED || (keepsNow && n < buffer.length >>> 3));
    let chunk: Buffer;
    if (copied) {
      chunk = Buffer.allocUnsafe(n);
      buffer.copy(chunk, 0, 0, n);
    } else {
      chunk = buffer.subarray(0, n);
    }
    const pauses = this.#pauses;
    this.lent = lent;
    const more = this.owner.streamData(this, chunk);
    this.lent = false;
    if (!more) this.pause();
    if (this.closed) return undefined;
    // Kept: the owner kept chunks as this one came and still does. One that lowered keepsChunks
    // meanwhile is done with it (an http response head, read whole); one that raised it keeps
    // the chunks that follow (an http member connection going idle after the body's last bytes).
    const keeps = keepsNow && this.keepsChunks;
    // Raised meanwhile with the other buffer held: that write is the last of an exchange that is
    // over (its member connection went idle), and no release() will come for it: left to it.
    if (!keepsNow && this.keepsChunks && this.#held === 1) {
      this.#spare = null;
      this.#held = 0;
    }
    if (buffer === SHARED) return n === READ_SIZE ? (this.#buffer = Buffer.allocUnsafeSlow(this.keepsChunks ? READ_SIZE : BULK_SIZE)) : undefined;
    // readAhead() moved the next read to the other buffer (also during a read copied out of this one)
    if (this.#buffer !== buffer) return this.#buffer;
    if (copied) return undefined;
    // Not paused meanwhile (nothing waits on this chunk) and not kept: read into it again, or,
    // when it is one an owner that kept chunks left and this read filled it, into a bulk one.
    if (this.#pauses === pauses && !keeps) return n === buffer.length && buffer.length < BULK_SIZE && this.#held === 0 ? this.#fresh(BULK_SIZE) : undefined;
    if (!keeps && !this.#reading) {
      // Paused with the other buffer held too: both wait for release() (or resume() replaces them).
      if (this.#held === 1) {
        this.#held = 2;
        return undefined;
      }
      // Paused, the other buffer free: the next read goes there.
      const spare = this.#spare;
      if (this.#held === 0 && spare !== null) {
        this.#spare = buffer;
        this.#held = 1;
        return (this.#buffer = spare);
      }
    }
    return this.#fresh(keeps ? READ_SIZE : BULK_SIZE);
  }

  /** A new buffer of `size` for the next read; the ones held are left to their writes. */
  #fresh(size: number): Buffer {
    this.#spare = null;
    this.#held = 0;
    return (this.#buffer = Buffer.allocUnsafeSlow(size));
  }

  /**
   * Called by the owner during streamData when the chunk's write had to wait: true when this
   * stream reads on into its second buffer meanwhile (the owner then returns true), false when it
   * cannot (a second chunk already waits, the chunk is a copy or kept, or the stream moves no bulk).
   * What HAProxy does with its buffer while the kernel's is full: the next read is already in
   * hand when the write completes. Bounded: two buffers per direction.
   */
  readAhead(): boolean {
    const held = this.#buffer;
    if (this.#held !== 0 || held === SHARED || this.keepsChunks || this.closed) return false;
    this.#buffer = this.#spare ?? Buffer.allocUnsafeSlow(BULK_SIZE);
    this.#spare = held;
    this.#held = 1;
    return true;
  }

  /** The writes that held this stream's chunks are done (the owner heard streamDrained from the stream it wrote them to). */
  release(): void {
    this.#held = 0;
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
    if (this.#heldText !== null) {
      this.writeHeld();
      if (this.closed) return true; // that write failed: the owner has heard streamError
    }
    const req = (spareWriteReq ??= newWriteReq());
    req.handle = this.#handle;
    this.#written += chunk.length;
    return this.#afterWrite(req, this.#handle.writeBuffer(req, chunk), chunk);
  }

  /**
   * Held until the end of the loop's turn (see writeHeld): taken, as far as the owner knows. But
   * behind writes that wait for the kernel, or past HOLD_LIMIT, written at once, as write().
   */
  writeLatin1(text: string): boolean {
    if (this.closed) return true;
    this.#written += text.length;
    const held = this.#heldText;
    if (this.#queued !== 0 || (held === null ? text.length : held.length + text.length) > HOLD_LIMIT) {
      if (held !== null) {
        this.writeHeld();
        if (this.closed) return true;
      }
      const req = (spareWriteReq ??= newWriteReq());
      req.handle = this.#handle;
      return this.#afterWrite(req, this.#handle.writeLatin1String(req, text), null);
    }
    if (held !== null) {
      this.#heldText = held + text;
      return true;
    }
    this.#heldText = text;
    heldStreams.push(this);
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(writeHeldStreams);
    }
    return true;
  }

  /**
   * Gives the held text to the kernel. A write it does not take whole is queued as any other,
   * but the owner was told its write was taken: it is not owed a streamDrained for it.
   */
  writeHeld(): void {
    const err = this.#writeHeldText();
    if (err !== 0) this.failed(err);
  }

  /** writeHeld without the failure: 0, or the errno of a write the kernel refused. */
  #writeHeldText(): number {
    const text = this.#heldText;
    if (text === null) return 0;
    this.#heldText = null;
    if (this.closed) return 0;
    const req = (spareWriteReq ??= newWriteReq());
    req.handle = this.#handle;
    // (what a queued string write needs, Node copies into the request itself)
    const err = this.#handle.writeLatin1String(req, text);
    if (err !== 0 || B!.state[B!.kLastWriteWasAsync] === 0) return err;
    spareWriteReq = null;
    req.stream = this;
    req.chunk = null;
    this.#queued++;
    return 0;
  }

  /** After a write call: false when it was queued (libuv keeps pointing at `chunk` until then). */
  #afterWrite(req: WriteReq<HandleStream>, err: number, chunk: Buffer | null): boolean {
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
    this.#blockedOwner = true;
    return false;
  }

  written(status: number): void {
    this.#queued--;
    if (this.closed) return;
    if (status < 0) return this.failed(status);
    if (this.#queued !== 0) return;
    if (this.#closeWanted) return this.close();
    if (this.#finWanted) this.#shutdown();
    if (this.closed || !this.#blockedOwner) return;
    this.#blockedOwner = false;
    this.owner.streamDrained(this);
  }

  closeAfterWrites(): void {
    if (this.closed) return;
    if (this.#heldText !== null) {
      this.writeHeld();
      if (this.closed) return;
    }
    if (this.#queued === 0) return this.close();
    this.#closeWanted = true;
  }

  end(): void {
    if (this.closed || this.#finWanted || this.#finSent) return;
    if (this.#heldText !== null) {
      this.writeHeld();
      if (this.closed) return;
    }
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
    // Nothing waits for the shutdown to complete: the stream closes on the peer's FIN (eof), and
    // a socket that breaks meanwhile fails the read that reports it (a paused stream reads again
    // when its writes drain, or the owner's idle timer ends it). So the request has no
    // oncomplete, and its completion costs no call into JavaScript (see ShutdownReq).
    // 1: done at once; ENOTCONN: the peer is gone already, which the read reports too.
    const err = this.#handle.shutdown(new B!.ShutdownWrap());
    if (err !== 0 && err !== 1 && err !== B!.UV_ENOTCONN) this.failed(err);
  }

  close(): void {
    if (this.closed) return;
    // What was written goes before the FIN. A write the kernel refuses (the peer reset) is not
    // reported: the stream closes anyway, and an owner hears no streamError from its own close(),
    // nor a second one when a read failed (failed() closes).
    if (this.#heldText !== null) this.#writeHeldText();
    this.#closing();
    this.#handle.close(onClosed);
  }

  reset(): void {
    if (this.closed) return;
    if (this.#heldText !== null) this.#writeHeldText(); // (as close())
    // libuv refuses a reset while our shutdown is pending (EINVAL), and Node's handle, already
    // marked closing by then, would ignore close() too: it would never close. So a stream that
    // has sent (or is sending) its FIN, or is still connecting, closes plainly.
    if (this.#finSent || this.#connecting) return this.close();
    this.#closing();
    this.#handle.reset(onClosed);
  }

  #closing(): void {
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
