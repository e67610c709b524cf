// A tcp, http or udp service served by the worker threads, as the main thread holds it: it binds
// the address first (SO_REUSEPORT), so a port 0 becomes one real port that every worker binds too,
// and lets go of it once the workers are bound (release). Connections and flows are the workers'.
// A tcp service's stream engine is chosen here too, as the workers choose it (same environment,
// same Node.js flags), so that the choice and its note are said once, by the main thread.

import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { bindHost, type Listener } from '../proxy/listener.ts';
import type { UdpDrop } from '../proxy/udp-listener.ts';
import type { Endpoint } from '../runtime/connection-table.ts';
import type { Service } from '../runtime/service.ts';
import { SharedDrops } from './udp-drops.ts';
import { streamEngine } from '../proxy/stream-engine.ts';
import type { Logger } from '../log.ts';
import type { StreamEngine } from '../proxy/stream.ts';

export class WorkersListener implements Listener {
  readonly service: Service;
  /** udp: what every worker drops, summed (null for tcp and http) */
  readonly udpDrops: SharedDrops | null;
  /** the stream engine of a tcp service's connections in the workers; null for http and udp */
  readonly engine: StreamEngine['name'] | null;
  #bound: net.Server | dgram.Socket | null = null;
  #address: Endpoint | null = null;

  /** Throws, as a TcpListener does, when FURIWAKE_TCP_ENGINE names an engine that cannot load. */
  /**
   * Check first that no other program holds the address: SO_REUSEPORT lets any process of the
   * same user join the address's group and silently take a share of its clients, where one loop's
   * plain bind fails with EADDRINUSE. Off for an address the workers hold already (a reload).
   */
  probe = true;

  constructor(service: Service, log: Logger) {
    this.service = service;
    this.udpDrops = service.config.mode === 'udp' ? new SharedDrops() : null;
    this.engine = service.config.mode === 'tcp' ? streamEngine(undefined, log).name : null;
  }

  /** udp: the datagrams the workers dropped, for the admin plane (as UdpListener.drops) */
  get drops(): Record<UdpDrop, number> | undefined {
    return this.udpDrops?.read();
  }

  /** tcp or udp, address and port (the bound one, once bound: a port 0 became a real one) */
  get key(): string {
    return `${this.udpDrops !== null ? 'udp' : 'tcp'} ${bindHost(this.service)} ${this.#address?.port ?? this.service.config.listen.port}`;
  }

  async listen(): Promise<void> {
    const host = bindHost(this.service);
    const port = this.service.config.listen.port;
    if (this.probe && port !== 0) await exclusiveBind(host, port, this.udpDrops !== null);
    // a client that reaches this socket in the moment before the workers bind is turned away
    // (tcp), or its datagram is dropped (udp: its next one reaches a worker)
    const bound = this.udpDrops !== null
      ? dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reusePort: true })
      : net.createServer((socket) => socket.destroy());
    this.#bound = bound;
    const failed = once(bound, 'error').then(([err]) => Promise.reject(err as Error));
    if (bound instanceof net.Server) bound.listen({ host, port, reusePort: true });
    else bound.bind(port, host);
    await Promise.race([once(bound, 'listening'), failed]);
    bound.on('error', () => {});
    const { address, port: real } = bound.address() as net.AddressInfo;
    this.#address = { address, port: real };
  }

  address(): Endpoint {
    if (this.#address === null) throw new Error(`service ${this.service.name} is not bound`);
    return this.#address;
  }

  /** The workers hold the address now: the main thread's bind goes. */
  release(): void {
    this.#bound?.close();
    this.#bound = null;
  }

  /** The workers' listeners close with their config (reload) or their stop. */
  async close(): Promise<void> {
    this.release();
  }
}

/** Binds and lets go of `host:port` without SO_REUSEPORT: fails (EADDRINUSE) when another socket holds it. */
async function exclusiveBind(host: string, port: number, udp: boolean): Promise<void> {
  const socket = udp ? dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' }) : net.createServer();
  const failed = once(socket, 'error').then(([err]) => Promise.reject(err as Error));
  if (socket instanceof net.Server) socket.listen({ host, port });
  else socket.bind(port, host);
  try {
    await Promise.race([once(socket, 'listening'), failed]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new Error(`${(err as Error).message} (another program holds the address)`);
    throw err;
  } finally {
    socket.on('error', () => {});
    // closed for good before the SO_REUSEPORT bind that follows, or that bind would find it there
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // a udp socket whose bind failed is closed already
      }
    });
  }
}
