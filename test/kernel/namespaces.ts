// Network namespaces a test makes and removes: the plumbing under each topology (netns.ts: one
// balancer; ha-net.ts: a pair). Every name starts with one random prefix, so parallel tests never
// clash; close() kills what was spawned in them, runs the test's clean-ups and deletes them.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { exec, type ExecResult } from '../../src/kernel/exec.ts';

/** What every topology offers its tests. */
export interface Lab {
  /** the namespaces' common prefix, fw-<random> */
  readonly prefix: string;
  /** runs a command in a namespace */
  run(ns: string, file: string, args: readonly string[], input?: string): Promise<ExecResult>;
  /** starts a long-running process in a namespace; it is killed by close() */
  spawn(ns: string, file: string, args: readonly string[]): ChildProcess;
  /** `clean` runs at close() (a temp dir of a peer), whether or not the test got that far */
  onClose(clean: () => Promise<void>): void;
  /**
   * Kills what spawn() started, runs what onClose() was given, and removes every namespace (and
   * with them the veths): each step is tried even when one before it failed; then the first
   * failure is thrown.
   */
  close(): Promise<void>;
}

export async function ip(args: readonly string[]): Promise<void> {
  await exec('ip', args);
}

/** An IPv6 address usable at once (no duplicate address detection on these private links). */
export function addr6(ns: string, address: string, dev: string): Promise<void> {
  return ip(['-n', ns, '-6', 'addr', 'add', address, 'dev', dev, 'nodad']);
}

/** A veth pair made directly inside its two namespaces, so the host never holds either end. */
export async function veth(nsA: string, nameA: string, nsB: string, nameB: string): Promise<void> {
  // Made under a unique temporary name, then renamed, so that parallel tests never clash.
  const tmp = `v${randomBytes(4).toString('hex')}`;
  await ip(['link', 'add', tmp, 'netns', nsA, 'type', 'veth', 'peer', 'name', nameB, 'netns', nsB]);
  await ip(['-n', nsA, 'link', 'set', tmp, 'name', nameA]);
  await ip(['-n', nsA, 'link', 'set', nameA, 'up']);
}

/** A set of namespaces under one prefix; `add` makes one, the Lab methods use them. */
export class Namespaces implements Lab {
  readonly prefix = `fw-${randomBytes(3).toString('hex')}`;
  readonly #children = new Set<ChildProcess>();
  readonly #cleanups: (() => Promise<void>)[] = [];
  readonly #made: string[] = [];

  /** Makes `<prefix>-<suffix>` with lo up and no duplicate address detection; its name. */
  async add(suffix: string): Promise<string> {
    const ns = `${this.prefix}-${suffix}`;
    await ip(['netns', 'add', ns]);
    this.#made.push(ns);
    // no duplicate address detection on these private links, link-local addresses included:
    // IPv6 works the moment a link is up
    await this.run(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  run(ns: string, file: string, args: readonly string[], input?: string): Promise<ExecResult> {
    return exec('ip', ['netns', 'exec', ns, file, ...args], input);
  }

  spawn(ns: string, file: string, args: readonly string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#children.add(child);
    child.on('exit', () => this.#children.delete(child));
    return child;
  }

  onClose(clean: () => Promise<void>): void {
    this.#cleanups.push(clean);
  }

  async close(): Promise<void> {
    const failures: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>): Promise<void> => {
      try {
        await step();
      } catch (err) {
        failures.push(err);
      }
    };
    await Promise.all([...this.#children].map((child) => attempt(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    })));
    for (const clean of this.#cleanups.splice(0).reverse()) await attempt(clean);
    // what a test started by other means (a daemon that forked) dies with its namespace's pids
    for (const ns of this.#made) await attempt(() => killAll(ns));
    for (const ns of this.#made.splice(0)) await attempt(() => ip(['netns', 'delete', ns]));
    if (failures.length > 0) throw failures[0];
  }
}

/** SIGKILLs every process left in a namespace (keepalived, conntrackd: children of a furiwake). */
async function killAll(ns: string): Promise<void> {
  const { stdout } = await exec('ip', ['netns', 'pids', ns]);
  for (const pid of stdout.split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
