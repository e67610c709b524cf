// What the tcp data plane needs of one TCP socket, and of the engine that makes them. Two
// engines implement it: Node's stream handles used directly (handle-engine.ts, the default on
// Node 24) and net.Socket (socket-stream.ts, the fallback). The connection logic (tcp-connection.ts) is
// written once against this interface, as HAProxy's streams sit on its transport layer.

import type { Endpoint } from '../runtime/connection-table.ts';

/**
 * One TCP socket. Reads are off until resume(). Events go to its owner. A stream closes itself
 * once both directions are done (the peer's FIN read and ours sent), and on an error.
 */
export interface Stream {
  /** the peer's FIN was read: no more data will come */
  readonly readEnded: boolean;
  /** closed or closing: no more events but streamClosed */
  readonly closed: boolean;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** bytes written but not yet taken by the kernel */
  readonly bytesQueued: number;
  /** starts (or resumes) reading; a no-op once the peer's FIN was read or the stream closed */
  resume(): void;
  pause(): void;
  /** end() was called: nothing more may be written */
  readonly writeEnded: boolean;
  /**
   * Writes (or queues) the chunk. false: stop sending more until streamDrained, which then
   * follows (handles: whenever the kernel did not take every byte; sockets: once Node's buffer
   * passes its high-water mark).
   */
  write(chunk: Buffer): boolean;
  /**
   * write() of a latin1 string (an HTTP head), without making a Buffer of it first. The handles
   * engine holds it until the end of the loop's turn and then writes the turn's texts together
   * (returning true: taken); a write, end or close of the stream writes it first. Behind writes
   * that still wait for the kernel, or past a turn's limit, it is written at once, as write().
   */
  writeLatin1(text: string): boolean;
  /** our FIN, once what is queued is written; closes the stream when the peer has finished too */
  end(): void;
  /** our FIN and then the close, once what is queued is written, whatever the peer does */
  closeAfterWrites(): void;
  /** closes now (a FIN where the kernel can still send one); queued bytes are dropped */
  close(): void;
  /** closes with a TCP reset where one can still be sent */
  reset(): void;
  /** the peer's address (read once, then kept) */
  remote(): Endpoint;
  /** our own address on this socket */
  local(): Endpoint;
  /**
   * The owner may keep the chunks it is handed past streamData (a head still arriving), so no
   * read may land in a chunk's memory again. Set when the stream is made (`keepsChunks`); an
   * owner that keeps chunks only at times (an http head, not the body after it) lowers it
   * meanwhile, and bulk reads then reuse one buffer. A chunk is kept when it is raised both as
   * the chunk is handed over and once streamData returns: raised meanwhile, it applies to the
   * chunks that follow; lowered meanwhile, the owner is done with this one too. A chunk a queued write still holds is never
   * reused either way: the owner pauses reading (or returns false) when a write waits.
   */
  keepsChunks: boolean;
  /**
   * write() returns false whenever it still holds the chunk once it returns (handles: a write
   * the kernel did not take whole). A net.Socket may keep a chunk below its high-water mark and
   * still return true: the reader of that chunk cannot reuse its memory.
   */
  readonly signalsHeldWrites: boolean;
  /**
   * Set by an owner that copies whatever it keeps of a chunk, or writes of it, before streamData
   * returns: a stream that can may then lend it the chunk (`lent`), a view of memory the next
   * read lands in, instead of a copy. Streams that cannot lend leave both undefined.
   */
  borrows?: boolean;
  /** during streamData: whether its chunk is lent (valid only until streamData returns) */
  readonly lent?: boolean;
  /**
   * Asked during streamData, when the write of the chunk had to wait: true when the stream reads
   * on meanwhile without reusing the chunk's memory (a second buffer: at most one chunk waits
   * this way), and the owner returns true; false (or absent) when it cannot, and the owner
   * returns false. An owner that reads ahead says release() when those writes are done.
   */
  readAhead?(): boolean;
  /** the writes that held this stream's chunks are done (after streamDrained of the stream written to) */
  release?(): void;
}

/** What a stream tells the connection that owns it. */
export interface StreamOwner {
  /**
   * Bytes read. Return true when the chunk was written at once or copied and reading may go
   * on; false to stop reading (resume() later): the chunk may still be referenced, as it may
   * when the owner paused reading during the call. An owner that keeps chunks past the call
   * says so (`keepsChunks`): its chunks are then never reused by a later read.
   */
  streamData(stream: Stream, chunk: Buffer): boolean;
  /** the peer's FIN */
  streamEnd(stream: Stream): void;
  /** everything written has left (after a write that returned false) */
  streamDrained(stream: Stream): void;
  /** connect() succeeded */
  streamConnected(stream: Stream): void;
  /** a failed connect, read or write (the stream is closing); `code` is the errno name */
  streamError(stream: Stream, code: string): void;
  /** the socket is closed for good: its last event */
  streamClosed(stream: Stream): void;
}

/** A listening socket. */
export interface StreamServer {
  address(): Endpoint;
  close(): void;
}

/** Makes streams: by accepting clients, and by connecting to members. */
export interface StreamEngine {
  readonly name: 'handles' | 'sockets';
  /**
   * Listens on ip:port; each client is handed to `accept` as an opaque token to adopt(). Rejects
   * with an Error whose message names the errno (EADDRINUSE...). Accept errors go to `onError`.
   * `reusePort`: bound with SO_REUSEPORT, so that other listeners that ask for it too may bind the
   * same ip:port, and the kernel spreads the clients over them.
   */
  listen(ip: string, port: number, backlog: number, accept: (client: unknown) => void, onError: (err: Error) => void, reusePort?: boolean): Promise<StreamServer>;
  /** the address an accepted client comes from, read before adopt() (per-client caps) */
  peerAddress(client: unknown): string;
  /** the stream of an accepted client, owned by `owner` */
  adopt(client: unknown, owner: StreamOwner, keepsChunks?: boolean): Stream;
  /** starts connecting to ip:port; the owner hears streamConnected or streamError */
  connect(ip: string, port: number, owner: StreamOwner, keepsChunks?: boolean): Stream;
}
