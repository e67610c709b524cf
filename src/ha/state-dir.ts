// The private directory one supervisor of keepalived works in (config, pid files, notify FIFO,
// track file, heartbeat): it must be a real directory of this user that no one else may write
// to (keepalived runs the alive script in it as root), and it must belong to one furiwake at a
// time: two furiwake for the same virtual router in one network namespace share it, and the
// second would otherwise kill the first's keepalived as one left behind. An owner file names the
// holder by pid and start time, so that a pid reused by another process never counts as it.

import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The start time of process `pid` in clock ticks since boot (/proc/<pid>/stat, field 22); null when it is gone (or there is no /proc). */
export function processStart(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // the command name (field 2) is in parentheses and may hold anything, parentheses too
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = fields[19];
  return start !== undefined && /^\d{1,20}$/.test(start) ? start : null;
}

/** Process `pid` exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Makes `dir` (owner only) or checks the one there; throws a clear error when it is unsafe. */
export function prepareStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  if (stat.isSymbolicLink()) throw new Error(`ha: the state directory ${dir} is a symlink; furiwake writes keepalived's config and scripts only into a real directory (remove the link)`);
  if (!stat.isDirectory()) throw new Error(`ha: the state directory ${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) throw new Error(`ha: the state directory ${dir} belongs to user ${stat.uid}, not to the user furiwake runs as (${uid}); remove it`);
  if ((stat.mode & 0o022) !== 0) {
    throw new Error(`ha: the state directory ${dir} may be written by other users (mode ${(stat.mode & 0o777).toString(8)}); ` +
      'keepalived runs a script from it as root: remove it, or make it writable by its owner only (chmod 700)');
  }
  if ((stat.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
}

/** Who holds a state directory: this process, with a token of its own per supervisor. */
export class StateDirOwner {
  readonly #file: string;
  readonly #line: string;
  #held = false;

  constructor(dir: string) {
    this.#file = join(dir, 'owner');
    this.#line = `${process.pid} ${processStart(process.pid) ?? 0} ${randomBytes(8).toString('hex')}\n`;
  }

  /** Takes the directory, or throws naming the live furiwake that holds it; an owner that is gone (or whose pid was reused) is replaced. */
  claim(what: string): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(this.#file, this.#line, { flag: 'wx', mode: 0o600 });
        this.#held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (this.#holds()) return;
      const holder = liveHolder(this.#file);
      if (holder !== null) {
        throw new Error(`ha: another furiwake (pid ${holder}) runs ${what} from ${this.#file.slice(0, -'/owner'.length)} in this network namespace; ` +
          'one furiwake per virtual router and namespace (stop it, or give this one another router-id)');
      }
      try {
        unlinkSync(this.#file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    throw new Error(`ha: cannot take ${this.#file}: another furiwake took it at the same moment`);
  }

  /** The owner file names this supervisor (a claim again, after the files were written again, is no conflict). */
  #holds(): boolean {
    try {
      this.#held = readFileSync(this.#file, 'latin1') === this.#line;
    } catch {
      this.#held = false;
    }
    return this.#held;
  }

  /** Frees the directory when this supervisor holds it (never another's claim). */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      if (readFileSync(this.#file, 'latin1') === this.#line) unlinkSync(this.#file);
    } catch {
      // gone already
    }
  }
}

/** The pid in an owner file when that process still runs (same start time) and is not a supervisor of ours that has let go. */
function liveHolder(file: string): number | null {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return null;
  }
  const match = /^(\d{1,10}) (\d{1,20}) [0-9a-f]{1,64}\n$/.exec(text);
  if (match === null) return null;
  const pid = Number(match[1]);
  const start = processStart(pid);
  return start !== null && start === match[2] ? pid : null;
}
