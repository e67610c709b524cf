// Lines to a syslog server, RFC 5424 (rfc5424.ts), over
// - udp (RFC 5426): one datagram per line, on a connected socket (the name is resolved once);
// - tcp (RFC 6587 octet counting): `LENGTH SP MESSAGE`, so a line may hold any byte;
// - a unix stream socket: one line per message, ended by a newline (syslog-ng's unix-stream
//   source reads this). Node.js has no unix datagram sockets, so /dev/log as most systems make
//   it (a datagram socket) cannot be reached: use udp to the local daemon instead.
// While the server cannot be reached (not yet connected, refused, gone) lines wait in a buffer
// of `limit` bytes and beyond it are dropped and counted; the connection is tried again with a
// backoff from 100 ms to 30 s. Nothing here waits for the server on the caller's behalf.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6, type Socket } from 'node:net';
import type { SyslogConfig } from '../config/logs-types.ts';
import { Rfc5424 } from './rfc5424.ts';
import type { LogKind, LogSink, SinkProblem } from './sink.ts';

const FIRST_RETRY = 100;
const LAST_RETRY = 30_000;
/** how long a closing sink gives the server to take what is buffered */
const CLOSE_WAIT = 1_000;

export class SyslogSink implements LogSink {
  readonly config: SyslogConfig;
  dropped = 0;
  readonly #format: Rfc5424;
  readonly #problem: SinkProblem;
  #stream: Socket | null = null;
  #udp: UdpSocket | null = null;
  #connected = false;
  /** lines (framed) waiting for a connection, and their size */
  #pending: string[] = [];
  #pendingBytes = 0;
  /** tcp and unix, connected: lines of this turn of the loop, written after it */
  #batch: string[] = [];
  #batchBytes = 0;
  /** udp: bytes handed to the socket and not yet sent */
  #inFlight = 0;
  #retry = FIRST_RETRY;
  #timer: NodeJS.Timeout | null = null;
  /** the server has been said unreachable (once per episode) */
  #down = false;
  #closed = false;
  /** udp: when a lost line was last told (Date.now()) */
  #toldLost = 0;

  constructor(config: SyslogConfig, problem: SinkProblem) {
    this.config = config;
    this.#format = new Rfc5424(config.facility, config.appName, config.hostname);
    this.#problem = problem;
    this.#connect();
  }

  write(line: string, severity: number, kind: LogKind): void {
    if (this.#closed) {
      this.dropped++;
      return;
    }
    const message = this.#format.format(line, severity, kind);
    if (this.#udp !== null && this.#connected) return this.#send(message);
    const framed = this.#frame(message);
    if (this.#stream !== null && this.#connected) {
      if (this.#stream.writableLength + this.#batchBytes + framed.length > this.config.buffer) {
        this.dropped++;
        return;
      }
      // the lines of one turn of the loop go out in one write, after it
      this.#batch.push(framed);
      this.#batchBytes += framed.length;
      if (this.#batch.length === 1) setImmediate(this.#writeBatch);
      return;
    }
    if (this.#pendingBytes + framed.length > this.config.buffer) {
      this.dropped++;
      return;
    }
    this.#pending.push(framed);
    this.#pendingBytes += framed.length;
  }

  reopen(): string | null {
    return null;
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.dropped += this.#pending.length;
    this.#pending = [];
    const udp = this.#udp;
    const stream = this.#stream;
    this.#udp = null;
    this.#stream = null;
    if (udp !== null) {
      try {
        udp.close();
      } catch {
        // not open yet, or closed by an error: nothing to send
      }
      return Promise.resolve();
    }
    if (stream === null || stream.destroyed) return Promise.resolve();
    if (this.#batch.length > 0) stream.write(this.#batch.join(''));
    this.#batch = [];
    return new Promise((resolve) => {
      const late = setTimeout(() => stream.destroy(), CLOSE_WAIT);
      stream.once('close', () => {
        clearTimeout(late);
        resolve();
      });
      stream.end();
    });
  }

  readonly #writeBatch = (): void => {
    const batch = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    const stream = this.#stream;
    // the connection went meanwhile: those lines are lost with it
    if (stream === null || !this.#connected) {
      this.dropped += batch.length;
      return;
    }
    stream.write(batch.length === 1 ? batch[0] : batch.join(''));
  };

  /** tcp: octet counting (the length in bytes, a space, the message); unix: a newline after it; udp: as is */
  #frame(message: string): string {
    if (this.config.transport === 'tcp') return `${Buffer.byteLength(message)} ${message}`;
    if (this.config.transport === 'unix') return message + '\n';
    return message;
  }

  #send(message: string): void {
    if (this.#inFlight + message.length > this.config.buffer) {
      this.dropped++;
      return;
    }
    this.#inFlight += message.length;
    this.#udp!.send(message, (err) => {
      this.#inFlight -= message.length;
      // refused (nothing listens: ICMP port unreachable), too large, no route: that line is lost
      if (err != null) this.#lost(err);
    });
  }

  #connect(): void {
    this.#timer = null;
    if (this.#closed) return;
    const { transport, host, port, path } = this.config;
    if (transport === 'udp') {
      const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
      this.#udp = socket;
      socket.unref();
      // connected, an error is the server's refusal of an earlier datagram (ICMP port
      // unreachable): that line is lost, the socket stays; before, the name did not resolve
      socket.on('error', (err) => (this.#connected ? this.#lost(err) : this.#failed(err)));
      socket.connect(port, host, () => {
        if (this.#udp !== socket) return;
        this.#connected = true;
        this.#retry = FIRST_RETRY;
        const pending = this.#pending;
        this.#pending = [];
        this.#pendingBytes = 0;
        for (const message of pending) this.#send(message);
      });
      return;
    }
    const socket = transport === 'tcp' ? connect({ host, port }) : connect({ path });
    this.#stream = socket;
    socket.unref();
    socket.setNoDelay(true);
    socket.on('connect', () => {
      this.#connected = true;
      this.#retry = FIRST_RETRY;
      if (this.#down) this.#up();
      const pending = this.#pending;
      this.#pending = [];
      this.#pendingBytes = 0;
      if (pending.length > 0) socket.write(pending.join(''));
    });
    // a server does not talk back: whatever it sends is read and dropped, so the socket never stalls
    socket.on('data', () => {});
    socket.on('error', (err) => this.#failed(err));
    socket.on('close', () => {
      if (this.#stream !== socket) return;
      // what the socket still held is lost with it
      this.#stream = null;
      this.#connected = false;
      this.#again();
    });
  }

  /** The socket failed: said once, then tried again later (tcp and unix: from 'close'). */
  #failed(err: Error): void {
    if (!this.#down) {
      this.#down = true;
      this.#problem('cannot reach the syslog server; its lines wait in a buffer, then are dropped', { address: this.#where(), reason: err.message });
    }
    if (this.#udp !== null) {
      const socket = this.#udp;
      this.#udp = null;
      this.#connected = false;
      try {
        socket.close();
      } catch {
        // closed already
      }
      this.#again();
    }
  }

  /** A udp datagram that did not arrive: that line is lost; the socket stays (the server may come back). */
  #lost(err: Error): void {
    this.dropped++;
    // udp never says the server is back: told at most once a minute, with the count so far
    const now = Date.now();
    if (now - this.#toldLost < 60_000) return;
    this.#toldLost = now;
    this.#problem('the syslog server refuses or cannot be sent lines; they are dropped', { address: this.#where(), reason: err.message, dropped: this.dropped });
  }

  #up(): void {
    this.#down = false;
    this.#problem('syslog server reached again', { address: this.#where(), dropped: this.dropped });
  }

  #again(): void {
    if (this.#closed || this.#timer !== null) return;
    this.#timer = setTimeout(() => this.#connect(), this.#retry);
    this.#timer.unref();
    this.#retry = Math.min(LAST_RETRY, this.#retry * 2);
  }

  #where(): string {
    const { transport, host, port, path } = this.config;
    return transport === 'unix' ? `unix:${path}` : `${transport}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
}
