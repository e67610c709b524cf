// How `furiwake ctl ha` prints a node of a pair: its VRRP role and whether it is fit, the
// replication link to each peer, the operator changes the pair shares, the last transitions.

import type { HaStatus } from '../ha/status.ts';
import { table } from './ctl-format.ts';

/** The words of the file for an operator change's field. */
const FIELD = { state: 'state', weight: 'weight', maxConnections: 'max-connections' } as const;

const at = (ms: number | null): string => (ms === null ? 'never' : new Date(ms).toISOString());

export function haText(s: HaStatus): string {
  let text = '';
  const v = s.vrrp;
  if (v === null) {
    text += 'vrrp: not run by this node (its ha section has no interface and router-id): something else moves the addresses\n';
  } else {
    const k = v.keepalived;
    text += `role ${v.role}  interface ${v.interface}  router-id ${v.routerId}  priority ${v.priority}\n`;
    text += `vips ${v.vips.join(' ')}\n`;
    text += `keepalived ${k.running ? `running, pid ${k.pid}` : 'not running'}, restarted ${k.restarts} times\n`;
    if (v.handedOver) text += 'handed over: this node keeps away from the VIPs until `furiwake ctl ha --take-back`\n';
    if (v.unfit !== null) text += `unfit: ${v.unfit}\n`;
    else if (!v.handedOver) text += 'fit: this node takes part in the election\n';
  }
  if (s.conntrack !== null) text += `conntrackd ${s.conntrack.running ? `running, pid ${s.conntrack.pid}` : 'not running'}, restarted ${s.conntrack.restarts} times\n`;
  if (s.sync !== null) {
    text += `\n${table(['PEER', 'LINK', 'LAST FULL SYNC', '>SENT', '>RECEIVED', '>AUTH FAILURES'], s.sync.peers.map((p) => [p.peer, p.connected ? 'up' : 'down', at(p.lastSync), p.sent, p.received, p.authFailures]))}`;
    if (s.sync.operator.length > 0) {
      // what an operator set on either node, which both apply (the last change wins)
      text += `\n${table(['POOL', 'MEMBER', 'SET', 'TO', 'BY', 'AT'], s.sync.operator.map((c) => [c.pool, c.member, FIELD[c.field], c.value, c.by, at(c.at)]))}`;
    }
  }
  if (v !== null && v.transitions.length > 0) {
    text += `\n${table(['AT', 'FROM', 'TO', 'WHY'], v.transitions.map((t) => [at(t.at), t.from, t.to, t.reason]))}`;
  }
  return text;
}
