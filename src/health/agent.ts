// The agent on a member tells the balancer how much to send it (HAProxy's agent-check
// protocol): furiwake connects to the agent's port at each interval, optionally writes a line,
// and reads one reply line. An agent that cannot be reached changes nothing but the message:
// the monitors, not the agent, decide whether a member is down.

import net from 'node:net';
import type { AgentConfig } from '../config/health-types.ts';
import type { AgentState, AgentView } from '../runtime/events.ts';
import type { Member } from '../runtime/member.ts';
import { agentMessage, MAX_AGENT_REPLY, parseAgentReply } from './agent-reply.ts';
import { errorReason } from './monitors/common-reasons.ts';

export class AgentChecker {
  readonly #config: AgentConfig;
  readonly #member: Member;
  #admin: 'ready' | 'drain' | 'maint' = 'ready';
  #operational: 'up' | 'down' = 'up';
  #percent = 100;
  #timer: NodeJS.Timeout | null = null;
  #socket: net.Socket | null = null;
  #closed = false;

  constructor(config: AgentConfig, member: Member) {
    this.#config = config;
    this.#member = member;
  }

  start(): void {
    this.#timer = setTimeout(this.#ask, Math.random() * this.#config.interval);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#socket?.destroy();
  }

  #ask = (): void => {
    this.#timer = null;
    try {
      this.#connect();
    } catch (err) {
      // nothing may escape a timer: an agent that cannot even be asked is unreachable
      this.#socket?.destroy();
      this.#socket = null;
      if (this.#closed) return;
      this.#report(`agent unreachable: ${errorReason(err)}`);
      this.#timer = setTimeout(this.#ask, this.#config.interval);
    }
  };

  #connect(): void {
    const member = this.#member;
    const socket = net.connect({ host: member.ip, port: this.#config.port });
    this.#socket = socket;
    let reply = '';
    let settled = false;
    const settle = (message: string | null, error: string | null): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      this.#socket = null;
      if (this.#closed) return;
      // the next ask is scheduled first: whatever applying this reply does, the agent keeps being asked
      this.#timer = setTimeout(this.#ask, this.#config.interval);
      try {
        if (message !== null) this.#apply(message);
        else this.#report(`agent unreachable: ${error}`);
      } catch {
        // a subscriber of the member's change threw (a fault of ours): nothing escapes the socket's
        // callback; the next reply is applied afresh
      }
    };
    socket.setTimeout(this.#config.timeout, () => settle(reply.trim() === '' ? null : reply, `timeout after ${this.#config.timeout} ms`));
    socket.on('error', (err: NodeJS.ErrnoException) => settle(null, errorReason(err)));
    socket.on('connect', () => {
      if (this.#config.send !== null) socket.write(this.#config.send);
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      // never more than one reply's worth is kept, however much the agent sends
      reply += chunk.length > MAX_AGENT_REPLY ? chunk.slice(0, MAX_AGENT_REPLY) : chunk;
      const nl = reply.indexOf('\n');
      if (nl !== -1) settle(reply.slice(0, nl), null);
      else if (reply.length >= MAX_AGENT_REPLY) settle(reply.slice(0, MAX_AGENT_REPLY), null);
    });
    socket.on('end', () => settle(reply.trim() === '' ? null : reply, 'closed without a reply'));
  }

  #apply(line: string): void {
    const words = parseAgentReply(line);
    if (words.admin !== undefined) this.#admin = words.admin;
    if (words.operational !== undefined) this.#operational = words.operational;
    if (words.percent !== undefined) this.#percent = words.percent;
    this.#publish(agentMessage(line), words.maxConnections ?? null);
  }

  #report(message: string): void {
    this.#publish(message, null);
  }

  #publish(message: string, maxConnections: number | null): void {
    const state: AgentState = this.#operational === 'down' ? 'down' : this.#admin === 'ready' ? 'ready' : this.#admin;
    const view: AgentView = { state, percent: this.#percent, maxConnections, message, at: Date.now() };
    this.#member.setAgent(view);
  }
}
