// The supervisor of keepalived, which runs VRRP for this node: furiwake writes its config in a
// private state directory, runs it as a child (restarted with backoff when it dies, stopped on
// exit), follows its state through the notify FIFO, and tells it when this node is unfit (every
// pool behind the VIPs has no usable member) or handed over by an operator, through the track file.

import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { isWildcard } from '../config/address.ts';
import type { Config, HaConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { aliveScript, INSTANCE_NAMES, renderKeepalivedConfig, vipsOf } from './keepalived-config.ts';
import { keepalivedSays } from './keepalived-output.ts';
import { makeFifo, NotifyFifo } from './notify-fifo.ts';
import { alive, prepareStateDir, StateDirOwner } from './state-dir.ts';
import type { NotifyEvent } from './notify-line.ts';
import type { HaRole, HaTransition, VrrpStatus } from './status.ts';
import { VrrpRoles } from './vrrp-role.ts';
import { vipDevices } from './vip-device.ts';

const FIRST_BACKOFF = 500;
const MAX_BACKOFF = 30_000;
/** a keepalived that ran this long was healthy: the next crash starts the backoff again */
const STEADY = 30_000;
/** how long keepalived gets to release the VIPs on SIGTERM before SIGKILL */
const STOP_GRACE = 5_000;
/** how often the event loop touches the heartbeat file keepalived's check reads */
const HEARTBEAT = 1_000;

export interface SupervisorOptions {
  /** keepalived's path; default: keepalived on PATH, else /usr/sbin/keepalived */
  binary?: string;
  /** where the config, pid files, FIFO and track file live; default: one directory per network namespace and router id under /run/furiwake */
  stateDir?: string;
  /** told of every change of this node's role, in order, as soon as keepalived reports it (what follows the role: conntrackd) */
  onTransition?: (transition: HaTransition) => void;
  /** handed over by an operator from the start: a reload that started a new keepalived keeps the handover */
  handedOver?: boolean;
  /** unfit from the start for this reason (waiting for the peers' state, sync-gate.ts) until told otherwise */
  waiting?: string | null;
}

/** One directory per network namespace and virtual router: several nodes may run on one host in namespaces. */
export function defaultStateDir(ha: HaConfig): string {
  let ns = 'host';
  try {
    ns = readlinkSync('/proc/self/ns/net').replace(/\D/g, '');
  } catch {
    // no /proc: one node per host
  }
  return join(process.env.FURIWAKE_RUN_DIR ?? '/run/furiwake', `ha-${ns}-${ha.routerId}`);
}

export class KeepalivedSupervisor {
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #binary: string;
  readonly #onTransition: (transition: HaTransition) => void;
  readonly dir: string;
  readonly #owner: StateDirOwner;
  readonly #paths: { conf: string; pid: string; vrrpPid: string; fifo: string; trackFile: string; aliveScript: string; heartbeat: string };
  #ha: HaConfig;
  #vips: string[];
  #text = '';
  #child: ChildProcess | null = null;
  #fifo: NotifyFifo | null = null;
  /** the FIFO #fifo reads: a different one at the path (made again) is opened anew */
  #fifoIno = -1;
  #restarts = 0;
  #backoff = FIRST_BACKOFF;
  #restartTimer: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #stopping = false;
  #handedOver = false;
  #unfit: string | null = null;
  /** a reason to keep away from the VIPs that the pools do not decide: waiting for the peers' state */
  #waiting: string | null = null;
  /** what the track file says now: 0 fit, 1 unfit or handed over */
  #written: string | null = null;
  readonly roles = new VrrpRoles();

  constructor(config: Config, runtime: Runtime, log: Logger, options: SupervisorOptions = {}) {
    if (config.ha === undefined) throw new Error('ha: no ha section');
    this.#runtime = runtime;
    this.#log = log;
    this.#ha = config.ha;
    this.#vips = vipsOf(config);
    this.#binary = options.binary ?? '/usr/sbin/keepalived';
    this.#onTransition = options.onTransition ?? (() => {});
    this.dir = options.stateDir ?? defaultStateDir(config.ha);
    this.#paths = {
      conf: join(this.dir, 'keepalived.conf'),
      pid: join(this.dir, 'keepalived.pid'),
      vrrpPid: join(this.dir, 'keepalived-vrrp.pid'),
      fifo: join(this.dir, 'notify.fifo'),
      trackFile: join(this.dir, 'unfit'),
      aliveScript: join(this.dir, 'alive.sh'),
      heartbeat: join(this.dir, 'heartbeat'),
    };
    this.#owner = new StateDirOwner(this.dir);
    this.#handedOver = options.handedOver ?? false;
    this.#waiting = options.waiting ?? null;
  }

  /** Unfit for `reason` (the peers' state has not arrived), or no longer (null). */
  waitFor(reason: string | null): void {
    if (this.#waiting === reason) return;
    this.#waiting = reason;
    this.#writeTrack();
  }

  /** The config's router id and state directory are the same: apply() can take it. */
  sameRouter(config: Config): boolean {
    return config.ha !== undefined && config.ha.routerId === this.#ha.routerId;
  }

  async start(): Promise<void> {
    // stopped while it waited (SIGTERM right after the start): nothing more may start
    if (!(await this.#prepare())) return;
    this.#runtime.events.on('member', this.#refit);
    this.#runtime.events.on('reload', this.#refit);
    if (this.#handedOver) this.#log.info('ha: still handed over to the peer (operator): this node keeps away from the VIPs until taken back');
    this.#refit();
    this.#heartbeat = setInterval(() => this.#beat(), HEARTBEAT).unref();
    this.#spawn();
  }

  /**
   * The directory and every file keepalived needs, before each start of it: someone may have
   * removed them meanwhile (rm -rf, a cleaner of old files under /tmp), and keepalived would
   * not run without its config, or would make a FIFO of its own that no one reads. False when
   * stopped while it waited.
   */
  async #prepare(): Promise<boolean> {
    prepareStateDir(this.dir);
    // before the stale keepalived is looked for: a live furiwake's keepalived is not stale
    this.#owner.claim(`VRRP router ${this.#ha.routerId}`);
    await this.#killStale();
    await makeFifo(this.#paths.fifo);
    if (this.#stopping) return false;
    const fifo = lstatSync(this.#paths.fifo).ino;
    if (this.#fifo === null || fifo !== this.#fifoIno) {
      this.#fifo?.close();
      this.#fifo = new NotifyFifo(this.#paths.fifo, {
        event: (e) => this.#onNotify(e),
        rejected: (reason, line) => this.#log.warn({ reason, line }, 'ha: a line from keepalived was not understood; it is ignored'),
      });
      this.#fifoIno = fifo;
    }
    this.#writeFiles();
    return true;
  }

  /** The files keepalived reads while it runs (a running keepalived keeps the FIFO it opened). */
  #writeFiles(): void {
    prepareStateDir(this.dir);
    this.#owner.claim(`VRRP router ${this.#ha.routerId}`);
    writeFileSync(this.#paths.heartbeat, '');
    writeFileSync(this.#paths.aliveScript, aliveScript(process.pid, this.#paths.heartbeat), { mode: 0o700 });
    this.#text = '';
    this.#writeConfig();
    this.#written = null;
    this.#writeTrack();
  }

  /** Tells keepalived's check the loop still turns; a stalled loop stops beating and loses the VIPs. */
  #beat(): void {
    try {
      const now = new Date();
      utimesSync(this.#paths.heartbeat, now, now);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // removed under us: without the alive script keepalived's check fails and the node loses the VIPs
        this.#log.warn({ dir: this.dir }, "ha: the state directory's files were removed; furiwake writes them again");
        try {
          this.#writeFiles();
          return;
        } catch (again) {
          err = again;
        }
      }
      this.#log.error({ reason: (err as Error).message, file: this.#paths.heartbeat }, 'ha: cannot touch the heartbeat file keepalived checks');
    }
  }

  /** Follows a reloaded config: a changed ha section or VIP set is rewritten and keepalived reloads it (SIGHUP). */
  apply(config: Config): string[] {
    if (config.ha === undefined) return [];
    this.#ha = config.ha;
    this.#vips = vipsOf(config);
    this.#refit();
    try {
      if (!this.#writeConfig()) return [];
    } catch (err) {
      return [`ha: cannot write keepalived's config; it keeps the one it has: ${(err as Error).message}`];
    }
    this.#log.info({ vips: this.#vips }, 'ha: the VRRP config changed; keepalived reloads it');
    if (this.#child !== null && this.#child.exitCode === null) {
      const t = this.roles.track(this.#instances(), 'the VIPs of an address family changed');
      if (t !== null) this.#transition(t);
      this.#child.kill('SIGHUP');
    }
    return [];
  }

  /** on: give the VIPs to the peer and keep them away until undone (maintenance); off: take part in the election again. */
  handover(on: boolean): void {
    if (this.#handedOver === on) return;
    this.#handedOver = on;
    this.#log.info({ handedOver: on }, on ? 'ha: handing the VIPs over to the peer (operator)' : 'ha: taking part in the election again (operator)');
    this.#writeTrack();
  }

  status(): VrrpStatus {
    const child = this.#child;
    const running = child !== null && child.exitCode === null && child.signalCode === null;
    return {
      role: this.roles.role,
      interface: this.#ha.interface,
      routerId: this.#ha.routerId,
      priority: this.#ha.priority,
      vips: [...this.#vips],
      handedOver: this.#handedOver,
      unfit: this.#waiting ?? this.#unfit,
      keepalived: { running, pid: running ? (child.pid ?? null) : null, restarts: this.#restarts },
      transitions: [...this.roles.transitions],
    };
  }

  /** SIGTERM (keepalived releases the VIPs), SIGKILL after a grace period. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    this.#runtime.events.off('member', this.#refit);
    this.#runtime.events.off('reload', this.#refit);
    const child = this.#child;
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE);
      await exited;
      clearTimeout(timer);
    }
    this.#fifo?.close();
    this.#fifo = null;
    this.#owner.release();
  }

  #instances(): string[] {
    const names: string[] = [];
    if (this.#vips.some((ip) => isIPv4(ip))) names.push(INSTANCE_NAMES[4]);
    if (this.#vips.some((ip) => isIPv6(ip))) names.push(INSTANCE_NAMES[6]);
    return names;
  }

  /** Writes the config when its text changed; true when it did. */
  #writeConfig(): boolean {
    // a VIP of another network (the members' gateway) goes on the interface of that network
    const devices = vipDevices(this.#vips, this.#ha.interface, networkInterfaces());
    const text = renderKeepalivedConfig({ ha: this.#ha, vips: this.#vips, paths: this.#paths, devices });
    if (text === this.#text) return false;
    writeFileSync(this.#paths.conf, text, { mode: 0o600 });
    this.#text = text;
    return true;
  }

  #spawn(): void {
    const args = ['--dont-fork', '--vrrp', '--log-console', '--log-detail', '--no-syslog',
      `--use-file=${this.#paths.conf}`, `--pid=${this.#paths.pid}`, `--vrrp_pid=${this.#paths.vrrpPid}`];
    const child = spawn(this.#binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const startedAt = Date.now();
    this.#log.info({ pid: child.pid, config: this.#paths.conf, vips: this.#vips, priority: this.#ha.priority }, 'ha: keepalived started');
    this.#reset('init', 'keepalived started');
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.#keepalivedSaid(line));
    }
    let ended = false;
    const onEnd = (how: string): void => {
      if (ended) return;
      ended = true;
      if (this.#child === child) this.#child = null;
      this.#reset('stopped', `keepalived ${how}`);
      if (Date.now() - startedAt >= STEADY) this.#backoff = FIRST_BACKOFF;
      this.#startAgain(`keepalived ${how}`);
    };
    child.on('error', (err) => {
      // a signal that could not be sent is no end of a process that runs
      if (child.pid === undefined) onEnd(`could not run (${err.message})`);
      else this.#log.warn({ reason: err.message }, 'ha: cannot signal keepalived');
    });
    child.on('exit', (code, signal) => onEnd(signal !== null ? `was ended by ${signal}` : `exited with code ${code}`));
  }

  /** Starts keepalived again after the backoff, the directory and its files made again first. */
  #startAgain(why: string): void {
    if (this.#stopping) return;
    const wait = this.#backoff;
    this.#backoff = Math.min(MAX_BACKOFF, this.#backoff * 2);
    this.#log.error({ wait }, `ha: ${why}; it starts again`);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      this.#restarts++;
      // #prepare stops a VRRP process that outlived it: a second one in the same router would fight it
      void this.#prepare().then((go) => {
        if (go && !this.#stopping && this.#child === null) this.#spawn();
      }).catch((err: unknown) => this.#startAgain(`keepalived cannot be started again: ${(err as Error).message}`));
    }, wait);
  }

  /** keepalived's console: its warnings (a config it cannot take, our check disabled) are warnings here too */
  #keepalivedSaid(line: string): void {
    const said = keepalivedSays(line);
    if (said.level === 'debug') this.#log.debug({ keepalived: line.slice(0, 500) }, 'ha: keepalived says');
    else this.#log.warn({ keepalived: line.slice(0, 500), meaning: said.meaning ?? undefined }, 'ha: keepalived warns');
  }

  #reset(role: HaRole, reason: string): void {
    const t = this.roles.reset(role === 'stopped' ? [] : this.#instances(), role, reason);
    if (t !== null) this.#transition(t);
  }

  #onNotify(event: NotifyEvent): void {
    if (event.kind !== 'instance') return;
    const t = this.roles.report(event.name, event.role, (from, to) => this.#why(from, to));
    if (t !== null) this.#transition(t, event.priority);
  }

  #why(from: HaRole, to: HaRole): string {
    if (to === 'master') return 'elected: no peer of higher priority is advertising';
    if (to === 'fault' || (from === 'master' && to === 'backup')) {
      if (this.#handedOver) return 'handed over by an operator';
      if (this.#waiting !== null) return `unfit: ${this.#waiting}`;
      if (this.#unfit !== null) return `unfit: ${this.#unfit}`;
      if (to === 'fault') return 'keepalived reports a fault (the interface is down, or furiwake was not found running)';
      return 'a peer of higher priority took over';
    }
    if (to === 'backup') return from === 'init' ? 'keepalived starts as a backup; the election decides' : 'a peer holds the VIPs';
    if (to === 'stopped') return 'keepalived stopped';
    return `keepalived reports ${to}`;
  }

  /** Logs a change of role and tells whoever follows it; called from the FIFO's and the child's callbacks, so nothing may escape. */
  #transition(t: HaTransition, priority?: number): void {
    const level = t.to === 'master' || t.to === 'backup' || t.to === 'init' || this.#stopping ? 'info' : 'warn';
    this.#log[level]({ from: t.from, to: t.to, reason: t.reason, priority, vips: this.#vips }, `ha: this node is now ${t.to}`);
    try {
      this.#onTransition(t);
    } catch (err) {
      this.#log.error({ err, to: t.to }, 'ha: what follows the role failed on a change of role');
    }
  }

  /** Unfit when every pool behind the VIPs has no usable member: the peer may have one. */
  #refit = (): void => {
    const pools = new Set<string>();
    const vips = new Set(this.#vips);
    const families = new Set(this.#vips.map((ip) => (isIPv4(ip) ? 4 : 6)));
    for (const service of this.#runtime.services.values()) {
      const ip = service.config.listen.ip ?? service.config.listen.host;
      const serves = vips.has(ip) || (isWildcard(ip) && families.has(isIPv4(ip) ? 4 : 6));
      if (!serves) continue;
      pools.add(service.pool.name);
      // an http service's routes serve the VIP from their pools too
      for (const route of service.routes?.routes ?? []) if (route.dispatcher !== null) pools.add(route.dispatcher.pool.name);
    }
    let unfit: string | null = null;
    let checking = false;
    if (pools.size > 0 && [...pools].every((name) => this.#runtime.pools.get(name)?.hasAvailable() !== true)) {
      // at start members wait for their first checks: expected, said as such, not a warning
      checking = [...pools].some((name) => this.#runtime.pools.get(name)?.members.some((m) => m.health === 'checking') === true);
      unfit = `no usable member in ${pools.size === 1 ? 'pool' : 'pools'} ${[...pools].join(', ')}${checking ? ' yet: the first health checks are under way' : ''}`;
    }
    if (unfit !== this.#unfit) {
      this.#unfit = unfit;
      if (unfit !== null) this.#log[checking ? 'info' : 'warn']({ reason: unfit }, 'ha: this node is unfit to hold the VIPs; it tells keepalived');
      else this.#log.info('ha: this node is fit to hold the VIPs again');
    }
    this.#writeTrack();
  };

  #writeTrack(): void {
    const value = this.#unfit !== null || this.#waiting !== null || this.#handedOver ? '1\n' : '0\n';
    if (value === this.#written) return;
    try {
      writeFileSync(this.#paths.trackFile, value);
      this.#written = value;
    } catch (err) {
      this.#log.error({ reason: (err as Error).message, file: this.#paths.trackFile }, 'ha: cannot write the track file keepalived follows');
    }
  }

  /** A keepalived left by a furiwake that was killed (its pid file): stopped before ours starts. */
  async #killStale(): Promise<void> {
    for (const file of [this.#paths.pid, this.#paths.vrrpPid]) {
      const pid = stalePid(file, this.#paths.conf);
      if (pid === null) continue;
      this.#log.warn({ pid, file }, 'ha: stopping a keepalived left running by an earlier furiwake');
      signal(pid, 'SIGTERM');
      for (let waited = 0; waited < STOP_GRACE && alive(pid); waited += 50) await new Promise((r) => setTimeout(r, 50));
      if (alive(pid)) signal(pid, 'SIGKILL');
    }
  }
}

/**
 * The pid in `file` when it is a live keepalived run with `conf` (an argument that is exactly
 * ours: a pid reused by any other process, even one that names our config, is never signalled); null otherwise.
 */
function stalePid(file: string, conf: string): number | null {
  let pid: number;
  try {
    const text = readFileSync(file, 'latin1').trim();
    if (!/^\d{1,10}$/.test(text)) return null;
    pid = Number(text);
    const args = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    if (!args.some((a) => a.includes('keepalived')) || !args.includes(`--use-file=${conf}`)) return null;
  } catch {
    return null;
  }
  return pid;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}
