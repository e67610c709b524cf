// The socket of a udp service and its flow table, keyed by the client's address:port.

import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { hashString } from '../balance/index.ts';
import type { Logger } from '../log.ts';
import type { ConnectionTable, Endpoint } from '../runtime/connection-table.ts';
import type { Service } from '../runtime/service.ts';
import { bindHost, type Listener } from './listener.ts';
import { UdpFlow } from './udp-flow.ts';

/** How often idle flows are looked for, as a share of the idle timeout (bounded below and above). */
function sweepInterval(idle: number): number {
  return Math.min(1000, Math.max(10, Math.floor(idle / 4)));
}

export class UdpListener implements Listener {
  readonly service: Service;
  /** datagrams dropped because no member was usable or the flow table was full */
  dropped = 0;
  readonly #socket: dgram.Socket;
  readonly #flows = new Map<string, UdpFlow>();
  readonly #table: ConnectionTable;
  readonly #log: Logger;
  #sweeper: NodeJS.Timeout | null = null;
  #vip: Endpoint = { address: '', port: 0 };

  constructor(service: Service, table: ConnectionTable, log: Logger) {
    this.service = service;
    this.#table = table;
    this.#log = log;
    this.#socket = dgram.createSocket({ type: isIPv6(bindHost(service)) ? 'udp6' : 'udp4' });
    this.#socket.on('message', this.#onMessage);
  }

  get flows(): number {
    return this.#flows.size;
  }

  listen(): Promise<void> {
    const service = this.service;
    return new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(service.config.listen.port, bindHost(service), () => {
        this.#socket.off('error', reject);
        this.#socket.on('error', (err) => this.#log.error({ service: service.name, err }, 'udp socket error'));
        this.#vip = this.address();
        this.#sweeper = setInterval(this.#sweep, sweepInterval(service.config.timeouts.idle));
        resolve();
      });
    });
  }

  address(): Endpoint {
    const a = this.#socket.address();
    return { address: a.address, port: a.port };
  }

  /** Closes the socket and every flow: without the service socket no reply can reach a client. */
  async close(): Promise<void> {
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    this.#sweeper = null;
    for (const flow of [...this.#flows.values()]) flow.close();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #onMessage = (data: Buffer, from: dgram.RemoteInfo): void => {
    const key = `${from.address}:${from.port}`;
    const now = Date.now();
    const flow = this.#flows.get(key) ?? this.#open(key, from);
    if (flow === undefined) {
      this.dropped++;
      return;
    }
    flow.send(data, now);
  };

  #open(key: string, from: dgram.RemoteInfo): UdpFlow | undefined {
    const service = this.service;
    if (this.#flows.size >= service.config.maxFlows) return undefined;
    const pool = service.pool;
    const persistence = service.persistence;
    const hash = hashString(from.address);
    const member = persistence === null
      ? pool.acquire(hash, null)
      : persistence.acquire(pool, persistence.clientKey(from.address), hash, null);
    if (member === undefined) return undefined;
    const flow = new UdpFlow(
      this.#table.nextId(), service.name, { address: from.address, port: from.port }, this.#vip,
      member, pool, this.#reply, this.#onFlowClosed,
    );
    this.#flows.set(key, flow);
    this.#table.add(flow);
    return flow;
  }

  #reply = (data: Buffer, flow: UdpFlow): void => {
    this.#socket.send(data, flow.client.port, flow.client.address);
  };

  #onFlowClosed = (flow: UdpFlow): void => {
    this.#flows.delete(`${flow.client.address}:${flow.client.port}`);
    const persistence = this.service.persistence;
    // source-ip: the client's entry expires `timeout` after its last flow ended
    if (persistence !== null) persistence.ended(persistence.clientKey(flow.client.address), flow.member);
    this.#table.remove(flow);
  };

  #sweep = (): void => {
    const expired = Date.now() - this.service.config.timeouts.idle;
    for (const flow of this.#flows.values()) {
      if (flow.lastSeen <= expired) flow.close();
    }
  };
}
