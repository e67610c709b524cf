// Kernel connection sync: conntrackd, run as furiwake's child, copies the kernel's conntrack
// entries of the nat and dsr services to the peer node, so that established connections go on
// when the VIPs move. furiwake writes its config (conntrackd-config.ts), starts it, restarts it
// with backoff when it dies, and stops it on exit.
//
// Contract for the HA supervisor (keepalived's role events):
// - `start()` once, when `ha` is configured, conntrack-sync is not off and nat or dsr services
//   run (syncedAddresses() is not empty). It resolves true once conntrackd answers on its control
//   socket, false when the first attempt failed (logged; retried with backoff). Never rejects.
// - `roleChanged(role)` at every VRRP transition of this node, in order, as soon as it is known:
//   `master` commits what the peer sent into the kernel table (`-c`), then flushes the caches
//   (`-f`), resyncs from the kernel (`-R`) and sends it all to the peer (`-B`); `backup` asks
//   the master for a full resync (`-n`) after scheduling a flush of this node's now-stale kernel
//   entries a minute later (`-t`, conntrackd's PurgeTimeout); `fault` only does `-t`. These are
//   the steps of conntrackd's own primary-backup.sh. Calls are queued and run one after another;
//   the promise resolves when this one's commands are done (failures are logged and counted,
//   never thrown). For `master` the commit should land before packets of the moved connections
//   arrive: call it at once.
// - `status()` for the API; `counters()` for the metrics (conntrack-metrics.ts); `events` emits
//   'status' whenever status() changes (conntrackd ready, stopped, restarted).
// - `reconfigure(addresses)` on a reload whose nat and dsr services or members changed the
//   synced addresses: conntrackd is started again on the new config at once (not counted as a
//   restart), and the current role applied again, which refills both nodes' caches. A changed
//   `ha` section (interface, peers, port): stop() this one and start a new one.
//   conntrackSyncFor(config) says whether one should run at all.
// - `stop()` on exit: stops conntrackd (SIGTERM, then SIGKILL after a grace) and removes the
//   state dir it made. Idempotent.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { exec, findExecutable } from '../kernel/exec.ts';
import type { Logger } from '../log.ts';
import type { HaConfig } from '../config/ha-types.ts';
import type { Config } from '../config/types.ts';
import { conntrackdPaths, conntrackPeer, renderConntrackdConfig, syncedAddresses } from './conntrackd-config.ts';
import { pickInterfaceAddress } from './interface-address.ts';
import type { ConntrackSyncStatus, HaRole } from './status.ts';

/** The conntrackd commands a role change runs, in order (conntrackd's primary-backup.sh). */
export const ROLE_COMMANDS: Readonly<Record<HaRole, readonly ConntrackCommand[]>> = {
  master: ['commit', 'flush', 'resync', 'bulk-send'],
  backup: ['purge', 'request-resync'],
  fault: ['purge'],
  init: [],
  stopped: [],
};

export type ConntrackCommand = 'commit' | 'flush' | 'resync' | 'bulk-send' | 'purge' | 'request-resync';

const FLAGS: Record<ConntrackCommand, string> = {
  commit: '-c', flush: '-f', resync: '-R', 'bulk-send': '-B', purge: '-t', 'request-resync': '-n',
};

export interface ConntrackSyncCounters {
  /** times conntrackd was started again after it died or could not start */
  restarts: number;
  /** commands run, by command and result */
  commands: Record<ConntrackCommand, { ok: number; failed: number }>;
}

export interface ConntrackSyncOptions {
  ha: Pick<HaConfig, 'interface' | 'peers' | 'sync' | 'vips' | 'conntrackSync'>;
  /** the addresses whose connections are synced: syncedAddresses(config) */
  addresses: readonly string[];
  logger: Logger;
  /** where the config, lock file and control socket go (made if missing, left at stop()); default: a new dir under the temp dir, removed by stop() */
  stateDir?: string;
  /** run conntrackd and ip in this network namespace (`ip netns exec`); tests use it */
  netns?: string | null;
  /** the conntrackd program; default: conntrackd on PATH */
  conntrackd?: string;
  /** the first restart delay, doubled at each failure in a row up to maxBackoff (ms) */
  backoff?: number;
  maxBackoff?: number;
  /** ms conntrackd has to say it is ready before it is taken for stuck; default 10 s */
  readyTimeout?: number;
}

/** A run that lasted this long was healthy: the next failure starts the backoff again. */
const STABLE_RUN = 30_000;
/** conntrackd that has not said it is ready by then is stuck: killed, and started again */
const READY_TIMEOUT = 10_000;
/** how long conntrackd has after SIGTERM before SIGKILL */
const STOP_GRACE = 5_000;
/** conntrackd's log lines are short; a longer one is cut, so a runaway child cannot fill memory */
const MAX_LINE = 4096;

export class ConntrackSync {
  /** 'status': status() changed */
  readonly events = new EventEmitter();
  readonly #options: ConntrackSyncOptions;
  #addresses: readonly string[];
  /** the running conntrackd is being replaced (reconfigure): its exit starts the next at once */
  #replacing = false;
  readonly #log: Logger;
  readonly #port: number;
  #stateDir: string | null = null;
  #ownStateDir = false;
  #configFile = '';
  #child: ChildProcess | null = null;
  #pid: number | null = null;
  #running = false;
  #stopping = false;
  #started = false;
  #failuresInRow = 0;
  #startedAt = 0;
  #restartTimer: NodeJS.Timeout | null = null;
  #readyTimer: NodeJS.Timeout | null = null;
  #role: HaRole = 'init';
  /** role commands run one after another, in the order the roles came */
  #queue: Promise<void> = Promise.resolve();
  /** resolves the pending start(): true once ready, false when the attempt failed */
  #onAttempt: ((ready: boolean) => void) | null = null;
  readonly #counters: ConntrackSyncCounters = {
    restarts: 0,
    commands: {
      commit: { ok: 0, failed: 0 }, flush: { ok: 0, failed: 0 }, resync: { ok: 0, failed: 0 },
      'bulk-send': { ok: 0, failed: 0 }, purge: { ok: 0, failed: 0 }, 'request-resync': { ok: 0, failed: 0 },
    },
  };

  constructor(options: ConntrackSyncOptions) {
    if (options.ha.conntrackSync === null) throw new Error('conntrack sync is off in this config (ha.conntrack-sync: false)');
    this.#options = options;
    this.#addresses = options.addresses;
    this.#port = options.ha.conntrackSync.port;
    this.#log = options.logger.child({ component: 'conntrack-sync' });
  }

  async start(): Promise<boolean> {
    if (this.#started) throw new Error('conntrack sync: start() called twice');
    this.#started = true;
    try {
      if (this.#options.stateDir === undefined) {
        this.#stateDir = await mkdtemp(join(tmpdir(), 'furiwake-conntrackd-'));
        this.#ownStateDir = true;
      } else {
        this.#stateDir = this.#options.stateDir;
        await mkdir(this.#stateDir, { recursive: true, mode: 0o700 });
      }
      this.#configFile = join(this.#stateDir, 'conntrackd.conf');
    } catch (err) {
      this.#log.error({ err: String(err) }, 'conntrack sync: cannot make its state dir; kernel connections will not survive a failover');
      return false;
    }
    return this.#attempt();
  }

  /** Runs the commands of `role` (see the contract at the top); resolves when they are done. */
  roleChanged(role: HaRole): Promise<void> {
    this.#role = role;
    // a failure is logged where it happens; nothing unexpected may break the queue for the next roles
    const run = this.#queue.then(() => this.#runRole(role)).catch((err: unknown) => {
      this.#log.error({ role, err: err instanceof Error ? err.message : String(err) }, 'conntrack sync: the role change failed');
    });
    this.#queue = run;
    return run;
  }

  /** New synced addresses (a reload): conntrackd starts again on them; nothing when unchanged. */
  reconfigure(addresses: readonly string[]): void {
    if (this.#stopping || (addresses.length === this.#addresses.length && addresses.every((a, i) => a === this.#addresses[i]))) return;
    this.#addresses = addresses;
    this.#log.info({ addresses }, 'conntrack sync: the synced addresses changed; starting conntrackd again on them');
    const child = this.#child;
    if (child === null) return; // not running: the next start (pending with backoff) takes them
    this.#replacing = true;
    child.kill('SIGTERM');
  }

  status(): ConntrackSyncStatus {
    return { running: this.#running, pid: this.#pid, restarts: this.#counters.restarts };
  }

  counters(): ConntrackSyncCounters {
    return this.#counters;
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    this.#settleAttempt(false);
    const child = this.#child;
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE);
      await exited;
      clearTimeout(kill);
    }
    await this.#queue;
    if (this.#ownStateDir && this.#stateDir !== null) await rm(this.#stateDir, { recursive: true, force: true }).catch(() => {});
  }

  // ---- the child ------------------------------------------------------------------------

  /** One start of conntrackd: config written, child spawned; resolves with whether it got ready. */
  async #attempt(): Promise<boolean> {
    const attempted = new Promise<boolean>((resolve) => {
      this.#onAttempt = resolve;
    });
    // an attempt that fails before conntrackd runs is a short run too: the backoff grows
    this.#startedAt = Date.now();
    try {
      await this.#writeConfig();
      if (this.#stopping) return false;
      this.#spawn();
    } catch (err) {
      this.#log.error({ err: err instanceof Error ? err.message : String(err) }, 'conntrack sync: conntrackd cannot start');
      this.#settleAttempt(false);
      this.#scheduleRestart();
    }
    return attempted;
  }

  async #writeConfig(): Promise<void> {
    const { ha } = this.#options;
    const addresses = this.#addresses;
    const peer = conntrackPeer(ha);
    if (ha.peers.length > 1) this.#log.warn({ peer }, 'conntrack sync: conntrackd syncs a pair; only the first peer receives kernel connections');
    const family = peer === null ? 4 : isIP(peer) as 4 | 6;
    const { stdout } = await this.#exec('ip', ['-j', `-${family}`, 'addr', 'show', 'dev', ha.interface]);
    const local = pickInterfaceAddress(stdout, family, [...(ha.vips ?? []), ...addresses], peer);
    if (local === null) throw new Error(`${ha.interface} has no IPv${family} address of its own (besides the VIPs) to send updates from`);
    const text = renderConntrackdConfig({ stateDir: this.#stateDir!, interface: ha.interface, port: this.#port, local, peer, addresses });
    await writeFile(this.#configFile, text, { mode: 0o600 });
    // a conntrackd that died leaves its lock file and socket: ours alone, in our own dir
    const paths = conntrackdPaths(this.#stateDir!);
    await rm(paths.lock, { force: true });
    await rm(paths.socket, { force: true });
  }

  #spawn(): void {
    const [file, args] = this.#argv(this.#options.conntrackd ?? 'conntrackd', ['-C', this.#configFile]);
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let ended = false;
    const readyTimeout = this.#options.readyTimeout ?? READY_TIMEOUT;
    const stuck = setTimeout(() => {
      this.#log.error({ seconds: readyTimeout / 1000 }, 'conntrack sync: conntrackd did not get ready in time; killing it');
      child.kill('SIGKILL');
    }, readyTimeout);
    this.#readyTimer = stuck;
    const end = (why: string): void => {
      if (ended) return;
      ended = true;
      clearTimeout(stuck);
      if (this.#child === child) {
        this.#child = null;
        this.#running = false;
        this.#pid = null;
        this.#emitStatus();
      }
      this.#settleAttempt(false);
      if (this.#stopping) return;
      if (this.#replacing) {
        this.#replacing = false;
        void this.#attempt();
        return;
      }
      this.#log.warn({ why }, 'conntrack sync: conntrackd stopped; starting it again');
      this.#scheduleRestart();
    };
    child.on('error', (err) => end(err.message));
    child.on('exit', (code, signal) => end(signal !== null ? `killed by ${signal}` : `exit status ${code}`));
    this.#pid = child.pid ?? null;
    const lines = (level: 'info' | 'warn') => lineReader((line) => this.#childSaid(line, level));
    child.stdout?.on('data', lines('info'));
    child.stderr?.on('data', lines('warn'));
  }

  /** conntrackd's console lines: `[date] (pid=N) [level] text`; ready at "initialization completed". */
  #childSaid(line: string, fallback: 'info' | 'warn'): void {
    const match = /\] \(pid=\d+\) \[(\w+)\] (.*)$/.exec(line);
    const level = match?.[1] ?? '';
    const text = match?.[2] ?? line;
    if (level === 'ERROR') this.#log.error({ conntrackd: text }, 'conntrackd: error');
    else if (level === 'warning') this.#log.warn({ conntrackd: text }, 'conntrackd: warning');
    else if (match !== null) this.#log.debug({ conntrackd: text }, 'conntrackd');
    else this.#log[fallback]({ conntrackd: text }, 'conntrackd');
    if (text === 'initialization completed' && this.#child !== null) this.#ready();
  }

  #ready(): void {
    if (this.#readyTimer !== null) clearTimeout(this.#readyTimer);
    this.#readyTimer = null;
    this.#running = true;
    this.#emitStatus();
    this.#log.info({ pid: this.#pid, restarts: this.#counters.restarts }, 'conntrack sync: conntrackd running');
    this.#settleAttempt(true);
    // a role that came while conntrackd was down, or one a restarted conntrackd has forgotten
    // (the peer's entries, the resync request): its commands run now
    if (this.#role !== 'init') void this.roleChanged(this.#role);
  }

  /** A listener that throws is logged; it cannot reach conntrackd's exit or output handler. */
  #emitStatus(): void {
    try {
      this.events.emit('status', this.status());
    } catch (err) {
      this.#log.error({ err: err instanceof Error ? err.message : String(err) }, 'conntrack sync: a status listener failed');
    }
  }

  #settleAttempt(ready: boolean): void {
    const settle = this.#onAttempt;
    this.#onAttempt = null;
    settle?.(ready);
  }

  #scheduleRestart(): void {
    if (this.#stopping || this.#restartTimer !== null) return;
    if (Date.now() - this.#startedAt >= STABLE_RUN) this.#failuresInRow = 0;
    const first = this.#options.backoff ?? 1_000;
    const delay = Math.min(this.#options.maxBackoff ?? 30_000, first * 2 ** Math.min(this.#failuresInRow, 20));
    this.#failuresInRow++;
    this.#log.info({ delay }, 'conntrack sync: conntrackd starts again after a delay (ms)');
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      this.#counters.restarts++;
      this.#emitStatus();
      void this.#attempt();
    }, delay);
  }

  // ---- role commands --------------------------------------------------------------------

  async #runRole(role: HaRole): Promise<void> {
    const commands = ROLE_COMMANDS[role];
    if (commands.length === 0 || this.#stopping) return;
    if (!this.#running) {
      // run when it is back: #ready() replays the current role
      this.#log.warn({ role }, 'conntrack sync: conntrackd is not running; the role change waits for it');
      return;
    }
    this.#log.info({ role, commands }, 'conntrack sync: role changed');
    for (const command of commands) {
      try {
        await this.#exec(this.#options.conntrackd ?? 'conntrackd', ['-C', this.#configFile, FLAGS[command]]);
        this.#counters.commands[command].ok++;
      } catch (err) {
        this.#counters.commands[command].failed++;
        this.#log.error({ role, command, err: err instanceof Error ? err.message : String(err) }, 'conntrack sync: a conntrackd command failed');
      }
    }
  }

  #exec(file: string, args: string[]): ReturnType<typeof exec> {
    const [f, a] = this.#argv(file, args);
    return exec(f, a);
  }

  #argv(file: string, args: string[]): [string, string[]] {
    const netns = this.#options.netns ?? null;
    return netns === null ? [file, args] : ['ip', ['netns', 'exec', netns, file, ...args]];
  }
}

/** Splits a child's output into lines (cut at MAX_LINE), calling `each` per line. */
function lineReader(each: (line: string) => void): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      each(pending.slice(0, Math.min(nl, MAX_LINE)));
      pending = pending.slice(nl + 1);
    }
    if (pending.length > MAX_LINE) {
      each(pending.slice(0, MAX_LINE));
      pending = '';
    }
  };
}

/**
 * Whether kernel connection sync runs for `config`, and on which addresses: with an `ha` section
 * whose conntrack-sync is not off and at least one nat or dsr service; null otherwise.
 */
export function conntrackSyncFor(config: Pick<Config, 'ha' | 'services' | 'pools'>): { ha: HaConfig; addresses: string[] } | null {
  // conntrackd follows VRRP's roles: without VRRP nothing tells it which node is master
  if (config.ha === undefined || !config.ha.vrrp || config.ha.conntrackSync === null) return null;
  const addresses = syncedAddresses(config);
  return addresses.length === 0 ? null : { ha: config.ha, addresses };
}

/**
 * What `validate` and `start` should say about kernel connection sync for `config`: warnings,
 * since the balancer works without it (connections just do not survive a failover), each naming
 * the key that silences or fixes it. Empty when it does not run.
 */
export function conntrackSyncWarnings(config: Pick<Config, 'ha' | 'services' | 'pools'>, path = process.env.PATH ?? ''): string[] {
  const sync = conntrackSyncFor(config);
  if (sync === null) return [];
  const warnings: string[] = [];
  if (findExecutable('conntrackd', path) === null) {
    warnings.push('ha.conntrack-sync: conntrackd not found on PATH: install conntrackd (Debian: apt-get install conntrackd) so that nat connections survive a failover, or set conntrack-sync: false');
  }
  if (sync.ha.peers.length > 1) {
    warnings.push(`ha.conntrack-sync: conntrackd syncs a pair: only the first of ha.peers (${sync.ha.peers[0]}) receives the kernel's connections`);
  }
  return warnings;
}
