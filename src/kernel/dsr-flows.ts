// Ending dsr flows by hand. The balancer holds no connection for a dsr flow, only an entry in its
// member's flow set (render.ts `f.SERVICE.N`): ending one deletes the entry, so the member gets no
// more packets of it, and — tcp — puts the client's address:port in the service's `ended` set for
// ENDED_TIMEOUT, where its next packet gets a reset from the balancer instead of a pick. Both in
// one nft transaction: no packet sees the entry gone and the reset not yet there. A udp flow only
// loses its entry: its next datagram is balanced anew. The ended set holds max-flows entries, as
// one member's flow set: when more tcp flows were ended within ENDED_TIMEOUT (all flows of a
// service of several members), the flows are ended all the same, without the reset — their next
// packets are balanced anew, as a udp flow's.
//
// Flows have no id in the kernel; FlowIds gives each the id the connection table shows, kept
// while the flow is listed, from a range above conntrack's 32-bit ids so the two never meet.

import { isIP } from 'node:net';
import { exec, ExecError } from './exec.ts';
import { ended, flows, TABLE } from './render.ts';
import type { KernelMemberView, KernelServiceView } from './view.ts';

/** The first dsr flow id: conntrack's ids are 32-bit, the user-space table's count from 1. */
const FIRST_ID = 2 ** 32 + 1;

/** One flow's key in a flow set: the client's address and port. */
export interface FlowKey {
  address: string;
  port: number;
}

export class FlowIds {
  /** per service, `address port` -> id, of the flows its last listing showed */
  #ids = new Map<string, Map<string, number>>();
  #next = FIRST_ID;

  /** The ids of one service's flows, as listed now; flows no longer listed lose theirs. */
  assign(service: string, keys: readonly FlowKey[]): number[] {
    const before = this.#ids.get(service);
    const now = new Map<string, number>();
    const ids = keys.map((k) => {
      const key = `${k.address} ${k.port}`;
      let id = now.get(key) ?? before?.get(key);
      if (id === undefined) id = this.#next++;
      now.set(key, id);
      return id;
    });
    this.#ids.set(service, now);
    return ids;
  }

  /** Forgets the services not in `live` (removed by a reload). */
  keep(live: ReadonlySet<string>): void {
    for (const name of this.#ids.keys()) if (!live.has(name)) this.#ids.delete(name);
  }
}

/**
 * The nft script that ends `keys` of one member's flow set: each (tcp) into the ended set, then
 * the member's entries deleted — these keys, or with `all` the whole set. Throws on a key that is
 * not an address of the service's family and a port 1-65535 (they come from nft, but reach a script).
 */
export function endScript(view: KernelServiceView, member: KernelMemberView, keys: readonly FlowKey[], all: boolean, reset = true): string {
  const family = view.family === 'ip' ? 4 : 6;
  for (const k of keys) {
    if (isIP(k.address) !== family || !Number.isInteger(k.port) || k.port < 1 || k.port > 65535) {
      throw new Error(`not a flow of ${view.name}: ${k.address} port ${k.port}`);
    }
  }
  const t = `netdev ${TABLE}`;
  const elements = `{ ${keys.map((k) => `${k.address} . ${k.port}`).join(', ')} }`;
  const lines: string[] = [];
  if (reset && view.protocol === 'tcp' && keys.length > 0) lines.push(`add element ${t} ${ended(view)} ${elements}`);
  if (all) lines.push(`flush set ${t} ${flows(view, member)}`);
  else if (keys.length > 0) lines.push(`delete element ${t} ${flows(view, member)} ${elements}`);
  return lines.join('\n') + '\n';
}

/** Ends one flow; 0 when it had ended meanwhile (its entry expired), 1 when it went. */
export async function endFlow(nft: string, view: KernelServiceView, member: KernelMemberView, key: FlowKey): Promise<number> {
  try {
    await run(nft, view, member, [key], false);
    return 1;
  } catch (err) {
    // the whole transaction failed: not even the reset was set up
    if (err instanceof ExecError && /No such file or directory/.test(err.stderr)) return 0;
    throw err;
  }
}

/**
 * Ends every flow of one member (those listed in `keys` are reset, tcp); how many were listed,
 * 0 when its flow set is gone (a reload removed the member or its service since the listing).
 */
export async function endFlows(nft: string, view: KernelServiceView, member: KernelMemberView, keys: readonly FlowKey[]): Promise<number> {
  try {
    await run(nft, view, member, keys, true);
    return keys.length;
  } catch (err) {
    if (err instanceof ExecError && /No such file or directory/.test(err.stderr)) return 0;
    throw err;
  }
}

/** The ended set is full (the kernel's ENFILE): the flows end without their reset. */
async function run(nft: string, view: KernelServiceView, member: KernelMemberView, keys: readonly FlowKey[], all: boolean): Promise<void> {
  try {
    await exec(nft, ['-f', '-'], endScript(view, member, keys, all));
  } catch (err) {
    if (!(err instanceof ExecError && /Too many open files/.test(err.stderr)) || view.protocol !== 'tcp') throw err;
    await exec(nft, ['-f', '-'], endScript(view, member, keys, all, false));
  }
}
