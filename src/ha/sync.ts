// The replication link of a pair (ha.sync): this node listens on `listen` for its peers and
// connects to each of `peers`, reconnecting with backoff. Each node sends its own changes on the
// links it opened and applies what arrives on the links its peers opened, so every direction has
// one sender: nothing is sent twice, nothing loops. When a link comes (back) up, its sender
// sends everything it holds (a full resynchronisation), then the changes as they happen,
// gathered for FLUSH_INTERVAL so that a key changed many times travels once.

import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer as netServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer, type TLSSocket } from 'node:tls';
import { formatAddress, type Address } from '../config/address.ts';
import type { HaSyncConfig } from '../config/ha-types.ts';
import type { Logger } from '../log.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { SyncPeerStatus } from './status.ts';
import type { OperatorChange, SyncMessage } from './sync-frame.ts';
import { HANDSHAKE_TIMEOUT, SyncLink, type LinkOwner } from './sync-link.ts';
import { READ_INTERVAL } from './kernel-sticky.ts';
import { SyncState } from './sync-state.ts';

/** how long changes gather before they are sent */
export const FLUSH_INTERVAL = 50;
/** reconnect backoff: doubles from the first to the last, and starts again once a link is up */
const BACKOFF_FIRST = 100;
const BACKOFF_MAX = 5_000;
/**
 * connections accepted that have not authenticated yet: peers are few, so a flood of strangers
 * is cut here. Beyond, the oldest waiting one is dropped rather than the new one refused, so a
 * stranger who holds them all open cannot keep a peer out until its handshake timeout.
 */
const MAX_WAITING = 64;
/** rows kept for addresses that are no configured peer (failed authentications): beyond, one shared row */
const MAX_STRANGER_ROWS = 16;

interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

/** One peer's row, as the API shows it. */
type PeerStats = SyncPeerStatus;

/**
 * A full resynchronisation is written while less than this waits for the peer, then paused until
 * the peer has read it: a table of any size reaches a peer that reads, and a stalled peer holds
 * this much, not the whole table.
 */
const RESYNC_HIGH_WATER = 4 << 20;
/** changes held for a peer while its resynchronisation is paused; beyond, it is dropped (and resyncs on its return) */
const MAX_HELD = 1_000;

/** An accepted connection that has not authenticated yet, and its deadline. */
interface Waiting {
  socket: Socket;
  /**
   * destroys it at HANDSHAKE_TIMEOUT: the TLS server's own handshake timeout starts again with
   * each byte, so a peer that sends one now and then would hold its connection for minutes
   */
  deadline: NodeJS.Timeout;
}

/** One configured peer: the link this node opens to it. */
interface Dialer {
  address: Address;
  stats: PeerStats;
  link: SyncLink | null;
  backoff: number;
  timer: NodeJS.Timeout | null;
  /** the full resynchronisation under way on `link`, and what changed meanwhile (sent after it) */
  resync: Generator<SyncMessage> | null;
  held: SyncMessage[];
}

export class HaSync implements LinkOwner {
  readonly node: string;
  readonly key: Buffer;
  readonly config: HaSyncConfig;
  readonly state: SyncState;
  readonly #log: Logger;
  readonly #server: Server;
  readonly #tls: TlsFiles | null;
  readonly #dialers: Dialer[];
  /** rows by peer name: configured peers, and any other peer that connected with the key */
  readonly #stats = new Map<string, PeerStats>();
  /** links peers opened to this node, with their row once authenticated */
  readonly #incoming = new Map<SyncLink, PeerStats | null>();
  /** links from peers whose full resynchronisation has ended (`synced`): what follows is incremental */
  readonly #synced = new WeakSet<SyncLink>();
  /** accepted connections not yet authenticated, by "address:port", oldest first */
  readonly #waiting = new Map<string, Waiting>();
  readonly #flush: NodeJS.Timeout;
  readonly #kernelRead: NodeJS.Timeout;
  #closed = false;
  /** 'synced': a peer's full resynchronisation arrived (its name): what a node that starts waits for before it takes the VIPs (sync-gate.ts) */
  readonly events = new EventEmitter<{ synced: [string] }>();
  /** a link with a peer has authenticated since the start; the first peer whose full resynchronisation arrived */
  peerSeen = false;
  firstSyncFrom: string | null = null;

  /** Listens on `config.listen`, then connects to each peer; throws (nothing left open) when it cannot listen or read its TLS files. */
  static async start(config: HaSyncConfig, runtime: Runtime, log: Logger): Promise<HaSync> {
    const tls = config.tls === null ? null : { cert: readTls(config.tls, 'cert'), key: readTls(config.tls, 'key'), ca: readTls(config.tls, 'ca') };
    const server = tls === null
      ? netServer()
      : tlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, handshakeTimeout: HANDSHAKE_TIMEOUT });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.ip ?? config.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : config.listen.port;
    return new HaSync(config, runtime, log, server, tls, formatAddress({ ...config.listen, port }));
  }

  private constructor(config: HaSyncConfig, runtime: Runtime, log: Logger, server: Server, tls: TlsFiles | null, node: string) {
    this.config = config;
    this.node = node;
    this.key = Buffer.from(config.key, 'utf8');
    this.#log = log;
    this.#server = server;
    this.#tls = tls;
    this.state = new SyncState(runtime, node);
    this.state.watchTables();
    server.on('error', (err) => log.error({ err, listen: node }, 'ha sync: the listener failed'));
    // every TCP connection (before TLS, when configured) waits in #waiting until it authenticates
    server.on('connection', (socket: Socket) => this.#wait(socket));
    server.on(tls === null ? 'connection' : 'secureConnection', (socket: Socket) => this.#accept(socket));
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.#authFailed(this.#rowOfAddress(socket.remoteAddress), `TLS: ${err.message}`, `${socket.remoteAddress}:${socket.remotePort}`);
    });
    this.#dialers = config.peers.map((address) => {
      const stats = this.#row(formatAddress(address));
      return { address, stats, link: null, backoff: BACKOFF_FIRST, timer: null, resync: null, held: [] };
    });
    for (const d of this.#dialers) this.#dial(d);
    this.#flush = setInterval(this.#tick, FLUSH_INTERVAL);
    this.#kernelRead = setInterval(this.#readKernel, READ_INTERVAL);
    log.info({ listen: node, peers: this.#dialers.map((d) => d.stats.peer), tls: tls !== null }, 'ha sync listening');
  }

  /** Each peer's row: connected, last full resync, entries sent and received, failed authentications. */
  status(): { peers: SyncPeerStatus[] } {
    return { peers: [...this.#stats.values()].map((s) => ({ ...s })) };
  }

  /** The operator changes known, newest first (sync-state.ts). */
  operatorChanges(): OperatorChange[] {
    return this.state.operatorChanges();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#flush);
    clearInterval(this.#kernelRead);
    for (const d of this.#dialers) {
      if (d.timer !== null) clearTimeout(d.timer);
      d.link?.close('this node is stopping');
    }
    for (const link of [...this.#incoming.keys()]) link.close('this node is stopping');
    for (const w of this.#waiting.values()) {
      clearTimeout(w.deadline);
      w.socket.destroy();
    }
    this.#waiting.clear();
    this.state.close();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- LinkOwner ---------------------------------------------------------------------------

  issued(nonce: Buffer): boolean {
    for (const d of this.#dialers) if (d.link?.sentNonce(nonce) === true) return true;
    for (const link of this.#incoming.keys()) if (link.sentNonce(nonce)) return true;
    return false;
  }

  opened(link: SyncLink): void {
    this.peerSeen = true;
    const dialer = this.#dialerOf(link);
    if (dialer === undefined) {
      this.#stopWaiting(link.remote);
      const row = this.#row(link.peerNode!);
      this.#incoming.set(link, row);
      if (!this.#dialers.some((d) => d.stats === row)) row.connected = true;
      this.#log.info({ peer: link.peerNode, from: link.remote }, 'ha sync: peer connected');
      return;
    }
    dialer.backoff = BACKOFF_FIRST;
    dialer.stats.connected = true;
    this.state.recording = true;
    this.state.watchTables();
    // the kernel's persistence entries follow within a reading (kernel-sticky.ts), all of them
    this.state.kernel.resendAll();
    this.#readKernel();
    // everything this node holds, then `synced`: the peer then has all of it
    dialer.resync = this.state.snapshot();
    dialer.held = [];
    this.#resync(dialer, link, 0);
  }

  /** Writes the resynchronisation on while the peer keeps up; pauses for it to read; `synced`, then what changed meanwhile. */
  #resync(d: Dialer, link: SyncLink, entries: number): void {
    if (d.link !== link || !link.open || d.resync === null) return;
    for (;;) {
      if (link.backlog > RESYNC_HIGH_WATER) return link.whenDrained(() => this.#resync(d, link, entries));
      const next = d.resync.next();
      if (next.done === true) break;
      link.send(next.value);
      entries += count(next.value);
    }
    d.resync = null;
    link.send({ type: 'synced' });
    // what changed meanwhile follows as the changes it is (the peer takes them over its own deletions)
    for (const m of d.held) {
      link.send(m);
      entries += count(m);
    }
    d.held = [];
    d.stats.sent += entries;
    d.stats.lastSync = Date.now();
    this.#log.info({ peer: d.stats.peer, name: link.peerNode, entries }, 'ha sync: link up, full resynchronisation sent');
  }

  message(link: SyncLink, m: SyncMessage): void {
    const row = this.#row(link.peerNode!);
    if (m.type === 'synced') {
      this.#synced.add(link);
      row.lastSync = Date.now();
      this.#log.info({ peer: row.peer, received: row.received }, 'ha sync: full resynchronisation received');
      this.firstSyncFrom ??= row.peer;
      this.events.emit('synced', row.peer);
      return;
    }
    const { taken, ignored } = this.state.apply(m, !this.#synced.has(link));
    row.received += taken;
    // the members' own change lines follow; this one says where the changes came from
    if (m.type === 'operator' && taken > 0) this.#log.info({ peer: row.peer, changes: taken }, 'ha sync: operator changes made on a peer applied');
    if (ignored > 0) this.#log.debug({ peer: row.peer, ignored, type: m.type }, 'ha sync: updates for services, pools or members this node does not have');
  }

  closed(link: SyncLink, reason: string, authFailure: boolean): void {
    const dialer = this.#dialerOf(link);
    if (dialer !== undefined) {
      dialer.link = null;
      dialer.resync = null;
      dialer.held = [];
      const was = dialer.stats.connected;
      dialer.stats.connected = false;
      if (authFailure) this.#authFailed(dialer.stats, reason, link.remote);
      // a node that stops closes its links on purpose: said, not warned of
      else if (was) this.#log[this.#closed ? 'info' : 'warn']({ peer: dialer.stats.peer, reason }, 'ha sync: link down');
      else this.#log.debug({ peer: dialer.stats.peer, reason }, 'ha sync: cannot reach the peer');
      this.state.recording = this.#dialers.some((d) => d.link?.open === true);
      if (!this.#closed) this.#redial(dialer);
      return;
    }
    const row = this.#incoming.get(link);
    this.#incoming.delete(link);
    if (authFailure) return this.#authFailed(this.#rowOfAddress(link.remoteIp), reason, link.remote);
    if (row === null || row === undefined) return;
    // a configured peer's row says whether this node's link to it is up; other rows, their link here
    if (!this.#dialers.some((d) => d.stats === row)) row.connected = false;
    this.#log[this.#closed ? 'info' : 'warn']({ peer: row.peer, from: link.remote, reason }, 'ha sync: peer disconnected');
  }

  // ---- internals ---------------------------------------------------------------------------

  #wait(socket: Socket): void {
    try {
      const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
      if (this.#waiting.size >= MAX_WAITING) {
        const [oldest, waited] = this.#waiting.entries().next().value!;
        this.#stopWaiting(oldest);
        waited.socket.destroy();
        this.#log.debug({ remote: oldest }, `ha sync: ${MAX_WAITING} connections wait for authentication; the oldest is dropped`);
      }
      const deadline = setTimeout(() => socket.destroy(), HANDSHAKE_TIMEOUT);
      this.#waiting.set(remote, { socket, deadline });
      socket.once('close', () => {
        if (this.#waiting.get(remote)?.socket === socket) this.#stopWaiting(remote);
      });
    } catch (err) {
      this.#log.error({ err }, 'ha sync: cannot take a connection');
      socket.destroy();
    }
  }

  /** `remote` waits no more (authenticated, dropped or gone). */
  #stopWaiting(remote: string): void {
    const w = this.#waiting.get(remote);
    if (w === undefined) return;
    clearTimeout(w.deadline);
    this.#waiting.delete(remote);
  }

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    try {
      this.#incoming.set(new SyncLink(socket, 'accept', this), null);
    } catch (err) {
      this.#log.error({ err }, 'ha sync: cannot take a link from a peer');
      socket.destroy();
    }
  }

  #dial(d: Dialer): void {
    d.timer = null;
    if (this.#closed) return;
    const host = d.address.ip ?? d.address.host;
    const tls = this.#tls;
    try {
      const socket: Socket = tls === null
        ? netConnect({ host, port: d.address.port })
        // the peer is named by its address, which its certificate need not carry: the CA and the key authenticate it
        : tlsConnect({ host, port: d.address.port, cert: tls.cert, key: tls.key, ca: tls.ca, rejectUnauthorized: true, checkServerIdentity: () => undefined });
      d.link = new SyncLink(socket, 'connect', this);
    } catch (err) {
      // (from a timer: nothing may escape) try again later
      this.#log.error({ err, peer: d.stats.peer }, 'ha sync: cannot open a link to the peer');
      this.#redial(d);
    }
  }

  #redial(d: Dialer): void {
    const wait = d.backoff;
    d.backoff = Math.min(BACKOFF_MAX, d.backoff * 2);
    d.timer = setTimeout(() => this.#dial(d), wait);
  }

  #dialerOf(link: SyncLink): Dialer | undefined {
    return link.role === 'connect' ? this.#dialers.find((d) => d.link === link) : undefined;
  }

  #row(peer: string): PeerStats {
    let row = this.#stats.get(peer);
    if (row === undefined) {
      row = { peer, connected: false, lastSync: null, sent: 0, received: 0, authFailures: 0 };
      this.#stats.set(peer, row);
    }
    return row;
  }

  /** The row of a configured peer at that IP; another address has a row of its own (`unknown <ip>`). */
  #rowOfAddress(ip: string | undefined): PeerStats {
    const d = this.#dialers.find((x) => (x.address.ip ?? x.address.host) === ip);
    if (d !== undefined) return d.stats;
    const name = `unknown ${ip ?? '?'}`;
    return this.#stats.has(name) || this.#stats.size < this.#dialers.length + MAX_STRANGER_ROWS ? this.#row(name) : this.#row('unknown');
  }

  #authFailed(row: PeerStats, reason: string, remote: string): void {
    row.authFailures++;
    this.#log.warn({ peer: row.peer, remote, reason }, 'ha sync: a peer failed authentication; dropped, nothing it sent was applied');
  }

  /** Reads the kernel's persistence entries while a link is up (they go out with the next flush). */
  #readKernel = (): void => {
    if (!this.state.recording || this.#closed) return this.state.kernel.drop();
    this.state.kernel.read().catch((err: unknown) => {
      this.#log.warn({ reason: (err as Error).message }, 'ha sync: cannot read the persistence entries of the kernel services');
    });
  };

  #tick = (): void => {
    try {
      this.state.watchTables();
      const open = this.#dialers.filter((d) => d.link?.open === true);
      const { messages, entries } = this.state.flush();
      if (open.length === 0 || messages.length === 0) return;
      for (const d of open) {
        if (d.resync !== null) {
          // after the resynchronisation, in order; a peer that falls this far behind starts again later
          d.held.push(...messages);
          if (d.held.length > MAX_HELD) d.link!.close(`the peer reads too slowly (${d.held.length} batches of changes wait behind its full resynchronisation)`);
          continue;
        }
        for (const m of messages) d.link!.send(m);
        d.stats.sent += entries;
      }
    } catch (err) {
      this.#log.error({ err }, 'ha sync: sending the changes failed');
    }
  };
}

/**
 * The link a config asks for: started, restarted when its section changed (a new key, address or
 * peer), stopped when it is gone. A failure to start (address in use, TLS file unreadable) is
 * returned as one line; the node runs on without replication.
 */
export async function followSync(current: HaSync | null, config: HaSyncConfig | null, runtime: Runtime, log: Logger): Promise<{ sync: HaSync | null; failure: string | null }> {
  if (current !== null && config !== null && JSON.stringify(current.config) === JSON.stringify(config)) return { sync: current, failure: null };
  await current?.close();
  if (config === null) return { sync: null, failure: null };
  try {
    return { sync: await HaSync.start(config, runtime, log), failure: null };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { sync: null, failure: e.syscall === 'listen' ? `ha.sync: cannot listen on ${formatAddress(config.listen)}: ${e.message}` : `ha.sync: ${e.message}` };
  }
}

/** the stick entries and operator changes a message carries */
function count(m: SyncMessage): number {
  return m.type === 'stick' ? m.entries.length : m.type === 'operator' ? m.changes.length : 0;
}

function readTls(files: NonNullable<HaSyncConfig['tls']>, which: 'cert' | 'key' | 'ca'): Buffer {
  try {
    return readFileSync(files[which]);
  } catch (err) {
    throw new Error(`tls.${which}: cannot read ${files[which]}: ${(err as Error).message}`);
  }
}
