// The "handles" stream engine: listening and connecting on Node's TCP stream handles
// (handle-stream.ts), loaded only when this engine is chosen (stream-engine.ts).

import net from 'node:net';
import type { Endpoint } from '../runtime/connection-table.ts';
import { loadBindings, type Bindings, type RawHandle } from './handle-bindings.ts';
import { endpointOf, errorName, HandleStream, useBindings } from './handle-stream.ts';
import type { StreamEngine, StreamServer } from './stream.ts';

type Handle = RawHandle<HandleStream>;

class HandleServer implements StreamServer {
  readonly #handle: Handle;
  #closed = false;

  constructor(handle: Handle) {
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

function reusePortFlag(B: Bindings<HandleStream>): number {
  if (B.UV_TCP_REUSEPORT === undefined) throw new Error("this Node.js's TCP binding has no reuse-port flag (UV_TCP_REUSEPORT)");
  return B.UV_TCP_REUSEPORT;
}

/** The engine over `B`. */
function engineOn(B: Bindings<HandleStream>): StreamEngine {
  return {
    name: 'handles',

    async listen(ip, port, backlog, accept, onError, reusePort = false) {
      // (Node's own net.js passes the same flag to the same binding for `reusePort`)
      const flags = reusePort ? reusePortFlag(B) : 0;
      const handle = new B.TCP(B.SERVER);
      // (libuv reports EADDRINUSE at listen(), not bind())
      let syscall = 'bind';
      let err = net.isIPv6(ip) ? handle.bind6(ip, port, flags) : handle.bind(ip, port, flags);
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
      return endpointOf((out) => (client as Handle).getpeername(out)).address;
    },

    adopt(client, owner, keepsChunks) {
      return new HandleStream(client as Handle, owner, keepsChunks);
    },

    connect(ip, port, owner, keepsChunks) {
      const stream = new HandleStream(new B.TCP(B.SOCKET), owner, keepsChunks);
      stream.connect(ip, port);
      return stream;
    },
  };
}

let loaded: StreamEngine | null = null;
let failure: Error | null = null;

/**
 * The handles engine, its bindings loaded on the first call (and only then: a process on the
 * sockets engine never calls process.binding). Throws, every time, why it cannot load.
 */
export function loadHandleEngine(): StreamEngine {
  if (loaded !== null) return loaded;
  if (failure !== null) throw failure;
  try {
    const bindings = loadBindings<HandleStream>();
    useBindings(bindings);
    return (loaded = engineOn(bindings));
  } catch (err) {
    throw (failure = err as Error);
  }
}
