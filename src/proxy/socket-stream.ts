// The "sockets" stream engine: the Stream interface over net.Socket, Node's public API. The
// fallback when the handles engine is not chosen by itself (stream-engine.ts), and selectable
// with FURIWAKE_TCP_ENGINE=sockets. Same behaviour, dearer per new connection (bench/README.md).

import net from 'node:net';
import type { Endpoint } from '../runtime/connection-table.ts';
import type { Stream, StreamEngine, StreamOwner, StreamServer } from './stream.ts';

/** A Stream over a net.Socket (or a tls.TLSSocket, which is one): for https, and the fallback engine. */
export class SocketStream implements Stream {
  readonly #socket: net.Socket;
  readonly #owner: StreamOwner;
  readEnded = false;
  closed = false;
  /** (each read of a net.Socket is fresh memory already) */
  keepsChunks = true;
  readonly signalsHeldWrites = false;
  #remote: Endpoint | null = null;

  constructor(socket: net.Socket, owner: StreamOwner) {
    this.#socket = socket;
    this.#owner = owner;
    socket.pause();
    socket.on('data', (chunk: Buffer) => {
      if (!owner.streamData(this, chunk)) socket.pause();
    });
    socket.on('end', () => {
      this.readEnded = true;
      owner.streamEnd(this);
    });
    socket.on('drain', () => owner.streamDrained(this));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.closed) return;
      this.closed = true;
      owner.streamError(this, err.code ?? err.message);
    });
    socket.on('close', () => {
      this.closed = true;
      owner.streamClosed(this);
    });
  }

  get bytesRead(): number {
    return this.#socket.bytesRead;
  }

  get bytesWritten(): number {
    return this.#socket.bytesWritten;
  }

  get bytesQueued(): number {
    return this.#socket.writableLength;
  }

  /** Reports the connect (or, for TLS, 'secureConnect') to the owner. */
  connecting(event: 'connect' | 'secureConnect' = 'connect'): this {
    this.#socket.once(event, () => this.#owner.streamConnected(this));
    return this;
  }

  get writeEnded(): boolean {
    return this.#socket.writableEnded;
  }

  resume(): void {
    if (!this.closed && !this.readEnded) this.#socket.resume();
  }

  pause(): void {
    this.#socket.pause();
  }

  write(chunk: Buffer): boolean {
    const socket = this.#socket;
    if (this.closed || socket.writableEnded) return true;
    // Node's own answer: false once its buffer passes the high-water mark, and then (only then)
    // 'drain' follows. Saying false for less would wait for a 'drain' that never comes.
    return socket.write(chunk);
  }

  writeLatin1(text: string): boolean {
    const socket = this.#socket;
    if (this.closed || socket.writableEnded) return true;
    return socket.write(text, 'latin1');
  }

  closeAfterWrites(): void {
    if (!this.closed) this.#socket.destroySoon();
  }

  end(): void {
    const socket = this.#socket;
    if (this.closed || socket.writableEnded) return;
    // the peer has finished and nothing waits: closing sends our FIN, one system call less
    if (socket.readableEnded && socket.writableLength === 0) return this.close();
    socket.end();
  }

  close(): void {
    this.closed = true;
    this.#socket.destroy();
  }

  reset(): void {
    const socket = this.#socket;
    this.closed = true;
    // After our FIN (or while connecting) a reset cannot be sent, and Node would never emit 'close'.
    if (socket.destroyed) return;
    if (socket.writableEnded || socket.connecting) return void socket.destroy();
    try {
      socket.resetAndDestroy();
    } catch {
      // A TLS socket has no TCP handle of its own to reset (ERR_INVALID_HANDLE_TYPE): closed
      // without a close_notify, which its peer reads as a cut connection all the same.
      socket.destroy();
    }
  }

  remote(): Endpoint {
    const socket = this.#socket;
    return (this.#remote ??= { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
  }

  local(): Endpoint {
    const socket = this.#socket;
    return { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
  }
}

export const socketEngine: StreamEngine = {
  name: 'sockets',

  listen(ip, port, backlog, accept, onError, reusePort = false) {
    // allowHalfOpen: a client's FIN must not close our side; the member still has to answer.
    const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, accept);
    return new Promise<StreamServer>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: ip, port, backlog, reusePort }, () => {
        server.off('error', reject);
        server.on('error', onError);
        resolve({
          address: () => {
            const a = server.address() as net.AddressInfo;
            return { address: a.address, port: a.port };
          },
          // The listening socket closes now; close()'s own callback would wait for every connection.
          close: () => {
            if (server.listening) server.close();
          },
        });
      });
    });
  },

  peerAddress(client) {
    return (client as net.Socket).remoteAddress ?? '';
  },

  adopt(client, owner) {
    return new SocketStream(client as net.Socket, owner);
  },

  connect(ip, port, owner) {
    const socket = net.connect({ host: ip, port, allowHalfOpen: true, noDelay: true });
    return new SocketStream(socket, owner).connecting();
  },
};
