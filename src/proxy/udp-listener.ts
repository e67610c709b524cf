// The socket of a udp service and its flow table, keyed by the client's address:port. The table
// is bounded (max-flows, clipped by the file descriptor budget); when it is full, the flow whose
// client was least recently active gives way to the new client, so a flood of source ports
// cannot shut new clients out until its own flows go idle.

import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { hashString } from '../balance/index.ts';
import type { Logger } from '../log.ts';
import type { ConnectionTable, Endpoint } from '../runtime/connection-table.ts';
import type { Member } from '../runtime/member.ts';
import { outOfDescriptors, ResourceCounts } from '../runtime/resources.ts';
import type { Service } from '../runtime/service.ts';
import { connectionLogging, logConnection } from './connection-log.ts';
import { bindHost, type Listener, type ListenerOptions } from './listener.ts';
import { UdpFlow, type FlowOwner } from './udp-flow.ts';
import type { MessageBalancer } from './udp-message-balancer.ts';
import { PendingReplies } from './udp-pending.ts';
import { RadiusRequests } from './udp-radius.ts';
import { SipDialogs } from './udp-sip.ts';

/** A flow neither queues nor connects (its socket is its own); its first reply is not timed. */
const NO_TIMES = { queue: 0, connect: 0, firstByte: 0 };

/** How often idle flows are looked for, as a share of the idle timeout (bounded below and above). */
function sweepInterval(idle: number): number {
  return Math.min(1000, Math.max(10, Math.floor(idle / 4)));
}

/** A flow moves to the recent end of the table at most this often: the order is exact to within it. */
const TOUCH_INTERVAL = 1000;

/** balance-per: the longest a request waits for its reply before it counts against its member (or timeouts.idle when shorter). */
export const REPLY_WAIT = 5000;

/** Why a datagram was dropped (the keys of `drops`). */
export type UdpDrop = 'malformed' | 'unmatched' | 'noMember' | 'denied';

/** Where the listener of one worker thread also counts its drops, for the main thread to sum (src/workers/udp-drops.ts). */
export interface DropTally {
  add(reason: UdpDrop): void;
}

export interface UdpListenerOptions extends ListenerOptions {
  /** told of every datagram dropped, besides the listener's own counts */
  tally?: DropTally;
}

export class UdpListener implements Listener, FlowOwner {
  readonly service: Service;
  /** datagrams dropped because no member was usable */
  dropped = 0;
  /** datagrams dropped because the service's access does not allow their client */
  denied = 0;
  /** flows closed to let a new client in */
  evicted = 0;
  /** `balance-per` radius-request or sip-dialog: each message is balanced on its own (null: per flow) */
  readonly messages: MessageBalancer | null;
  /** balance-per: the requests awaiting their member's reply */
  readonly pending = new PendingReplies();
  readonly #socket: dgram.Socket;
  /** in order of the clients' last activity, least recent first (to within TOUCH_INTERVAL) */
  readonly #flows = new Map<string, UdpFlow>();
  readonly #table: ConnectionTable;
  readonly #log: Logger;
  readonly #resources: ResourceCounts;
  /** the most flows the file descriptor budget allows this service */
  readonly #budget: () => number;
  readonly #tally: DropTally | null;
  #sweeper: NodeJS.Timeout | null = null;
  #vip: Endpoint = { address: '', port: 0 };
  #closed: Promise<void> | null = null;

  constructor(service: Service, table: ConnectionTable, log: Logger, resources = new ResourceCounts(), budget: () => number = () => Infinity, options: UdpListenerOptions = {}) {
    this.service = service;
    this.#table = table;
    this.#log = log;
    this.#resources = resources;
    this.#budget = budget;
    this.#tally = options.tally ?? null;
    const per = service.config.balancePer;
    const max = (): number => this.service.config.maxFlows;
    this.messages = per === 'radius-request' ? new RadiusRequests(max) : per === 'sip-dialog' ? new SipDialogs(max) : null;
    this.#socket = dgram.createSocket({ type: isIPv6(bindHost(service)) ? 'udp6' : 'udp4', reusePort: options.reusePort ?? false });
    this.#socket.on('message', this.#onMessage);
  }

  /** what was dropped, for the admin plane (read when asked) */
  get drops(): Record<UdpDrop, number> {
    const messages = this.messages;
    return { malformed: messages?.malformed ?? 0, unmatched: messages?.unmatched ?? 0, noMember: this.dropped, denied: this.denied };
  }

  get flows(): number {
    return this.#flows.size;
  }

  /** The bound of the flow table now: max-flows, or less when the descriptor budget says so. */
  get maxFlows(): number {
    return Math.min(this.service.config.maxFlows, this.#budget());
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

  /**
   * Closes the socket and every flow: without the service socket no reply can reach a client.
   * Also after a failed bind, which leaves the socket open otherwise.
   */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      if (this.#sweeper !== null) clearInterval(this.#sweeper);
      this.#sweeper = null;
      for (const flow of [...this.#flows.values()]) flow.close('terminated');
      this.pending.clear();
      this.#socket.close(() => resolve());
    });
    return this.#closed;
  }

  // A throw that escapes the handling of one datagram (a bug) drops it and closes its client's
  // flow, counted and logged now and then; it never reaches the event loop, where it would end
  // the process with every service.
  #onMessage = (data: Buffer, from: dgram.RemoteInfo): void => {
    try {
      this.#datagram(data, from);
    } catch (err) {
      this.flowFailed(this.#flows.get(`${from.address}:${from.port}`) ?? null, err);
    }
  };

  /** Moves a flow seen again to the recent end of the table (at most once per TOUCH_INTERVAL), so that eviction finds the least recent first. */
  #touch(key: string, flow: UdpFlow, now: number): void {
    if (now - flow.touched < TOUCH_INTERVAL) return;
    this.#flows.delete(key);
    this.#flows.set(key, flow);
    flow.touched = now;
  }

  #datagram(data: Buffer, from: dgram.RemoteInfo): void {
    // access is read per datagram: a reload that changes it applies to flows already open too
    const access = this.service.access;
    if (access !== null && !access.allows(from.address)) return this.#deny(from.address);
    const key = `${from.address}:${from.port}`;
    const now = Date.now();
    if (this.messages !== null) return this.#message(this.messages, data, from, key, now);
    let flow = this.#flows.get(key);
    if (flow !== undefined) {
      this.#touch(key, flow, now);
    } else {
      flow = this.#open(key, from);
      if (flow === undefined) {
        this.dropped++;
        this.#tally?.add('noMember');
        return;
      }
    }
    flow.send(data, now);
  }

  #open(key: string, from: dgram.RemoteInfo): UdpFlow | undefined {
    const service = this.service;
    // the flow keeps the rule it starts under (pool, persistence): its end is recorded by it
    const dispatcher = service.dispatcher;
    const clientKey = dispatcher.persistence?.clientKey(from.address) ?? null;
    const hash = hashString(from.address);
    let member: Member | undefined;
    if (!service.pool.hasAvailable()) {
      // no member takes new clients: only a persistent client's own (draining) member may take
      // it, chosen before any flow is evicted for it
      if (clientKey === null) return undefined;
      member = dispatcher.choose(clientKey, hash, null);
      if (member === undefined) return undefined;
    }
    const max = this.maxFlows;
    while (this.#flows.size >= max) this.#evictOne();
    member ??= dispatcher.choose(clientKey, hash, null);
    if (member === undefined) return undefined;
    return this.#add(key, from, member, clientKey);
  }

  /** A new flow of the client to `member`, which has counted it as active already (unless `holdsPlace` is false: balance-per). */
  #add(key: string, from: dgram.RemoteInfo, member: Member, clientKey: string | null, holdsPlace = true): UdpFlow {
    const flow = new UdpFlow(this.#table.nextId(), this.service.name, { address: from.address, port: from.port }, this.#vip, member, this.service.dispatcher, clientKey, this, holdsPlace);
    this.#flows.set(key, flow);
    this.#table.add(flow);
    this.#resources.udpFlows++;
    return flow;
  }

  /**
   * `balance-per` radius-request or sip-dialog: the message goes to its own member
   * (udp-message-balancer.ts), through the flow of the pair (client, member). The place each
   * message takes on its member is held while it awaits a reply (udp-pending.ts), so
   * least-connections counts requests in progress; a message that awaits none gives it back at once.
   */
  #message(messages: MessageBalancer, data: Buffer, from: dgram.RemoteInfo, client: string, now: number): void {
    const pinned = messages.pinned(data, client);
    if (pinned === false) {
      this.#tally?.add('malformed');
      this.#resources.limited(this.#log, `malformed:${this.service.name}`, { service: this.service.name, client, reason: messages.why, total: messages.malformed }, `a datagram that is not a well-formed ${this.service.config.balancePer === 'sip-dialog' ? 'SIP message' : 'RADIUS request'} was dropped`);
      return;
    }
    const dispatcher = this.service.dispatcher;
    const clientKey = dispatcher.persistence?.clientKey(from.address) ?? null;
    // a retransmit, an EAP round or a dialog's message goes to its member while that member serves existing clients
    const member = pinned !== null && dispatcher.pool.acquireMember(pinned) ? pinned : dispatcher.choose(clientKey, hashString(from.address), null);
    if (member === undefined) {
      this.dropped++;
      this.#tally?.add('noMember');
      return;
    }
    messages.sent(member);
    const key = `${client}/${member.id}`;
    let flow = this.#flows.get(key);
    if (flow !== undefined) {
      this.#touch(key, flow, now);
    } else {
      const max = this.maxFlows;
      while (this.#flows.size >= max) this.#evictOne();
      flow = this.#add(key, from, member, clientKey, false);
    }
    const awaits = messages.awaits;
    if (awaits === '' || !this.pending.add(awaits, member, flow, dispatcher, clientKey, now, this.service.config.maxFlows)) dispatcher.release(member, clientKey, 0, 0);
    flow.send(data, now);
  }

  #deny(client: string): void {
    const service = this.service;
    this.denied++;
    service.denied++;
    this.#tally?.add('denied');
    this.#resources.limited(this.#log, `access:${service.name}`, { service: service.name, client, total: this.denied }, 'a datagram from a client the service\'s access does not allow was dropped');
  }

  /** The least recently active flow gives way; its upstream socket closes. */
  #evictOne(): void {
    const oldest = this.#flows.values().next().value;
    if (oldest === undefined) return;
    this.evicted++;
    this.#resources.evicted(this.#log, this.service.name);
    oldest.close('evicted');
  }

  reply(data: Buffer, flow: UdpFlow): void {
    const messages = this.messages;
    if (messages !== null) {
      if (!messages.answers(data, `${flow.client.address}:${flow.client.port}`, flow.member)) {
        this.#tally?.add('unmatched');
        this.#resources.limited(this.#log, `unmatched:${this.service.name}`, { service: this.service.name, member: flow.member.id, reason: messages.why, total: messages.unmatched }, 'a datagram from a member that answers nothing its client sent was dropped');
        return;
      }
      if (messages.answered !== '') this.pending.answered(messages.answered, flow.member);
    }
    // passive health: the member answers (flow.lastSeen: now, set by the flow as the datagram came)
    const passive = flow.member.passive;
    passive.answeredAt = flow.lastSeen;
    passive.success();
    this.#socket.send(data, flow.client.port, flow.client.address);
  }

  flowClosed(flow: UdpFlow): void {
    let key = `${flow.client.address}:${flow.client.port}`;
    if (this.messages !== null) key += `/${flow.member.id}`;
    // a new flow may have the key already (the old one was closed to make room for it)
    if (this.#flows.get(key) === flow) this.#flows.delete(key);
    this.#table.remove(flow);
    this.#resources.udpFlows--;
    if (connectionLogging(this.service.config, this.#log)) this.#logEnd(flow);
  }

  /** The connection log line of a flow that ended. */
  #logEnd(flow: UdpFlow): void {
    try {
      logConnection(this.#log, {
        client: flow.client.address,
        service: this.service.name,
        pool: flow.member.poolName,
        member: flow.member.id,
        protocol: 'udp',
        bytesIn: flow.bytesIn,
        bytes: flow.bytesOut,
        termination: flow.termination,
      }, NO_TIMES, Date.now() - flow.startedAt);
    } catch (err) {
      this.#resources.limited(this.#log, `udp-log:${this.service.name}`, { service: this.service.name, err }, 'a udp flow could not be logged');
    }
  }

  flowFailed(flow: UdpFlow | null, err: unknown): void {
    this.#resources.connectionsFailed++;
    this.#resources.limited(this.#log, `udp-failed:${this.service.name}`, { service: this.service.name, err }, 'udp flow ended by an unexpected error');
    try {
      flow?.close('error');
    } catch {
      // its socket is gone already
    }
  }

  socketFailed(_flow: UdpFlow, err: Error): void {
    if (outOfDescriptors(err)) this.#resources.exhausted(this.#log, this.service.name, 'udp flow', err);
    else this.#resources.limited(this.#log, `udp-socket:${this.service.name}`, { service: this.service.name, err }, 'cannot open a socket for a udp flow');
  }

  #sweep = (): void => {
    const now = Date.now();
    const idle = this.service.config.timeouts.idle;
    if (this.messages !== null) this.pending.expire(now - Math.min(idle, REPLY_WAIT));
    const expired = now - idle;
    for (const flow of this.#flows.values()) {
      if (flow.lastSeen <= expired) flow.close();
    }
  };
}
