// @ts-check
// The HA panel: this node of an active/standby pair, read from /api/v1/ha (404: the config has no
// ha section, and the panel stays hidden). The event stream carries no ha event: each snapshot
// (once a second) says whether this node is part of a pair (status.ha), and the panel is read
// again then, one request at a time. The hand over / take
// back button POSTs /api/v1/ha/handover with the token, like the member buttons.

import { authHeaders, write } from './auth.js';
import { $, fill, h, toast } from './dom.js';
import { duration } from './format.js';

/** @typedef {import('../../ha/status.ts').HaStatus} HaStatus */
/** @typedef {import('../../ha/status.ts').HaRole} HaRole */

/** The last transitions shown, newest first. */
const SHOWN_TRANSITIONS = 5;

/** @type {Record<HaRole, string>} what each role means for the VIPs, in the reader's terms */
const MEANING = {
  master: 'holds the VIPs and serves them',
  backup: 'stands by: the peer holds the VIPs',
  fault: 'cannot take the VIPs (its interface is down, or it told keepalived it is unfit)',
  init: 'is starting: it has not joined the election yet',
  stopped: 'does not take part: keepalived is not running',
};

let reading = false;
/** @type {HaStatus | null} */
let shown = null;

/**
 * Reads /api/v1/ha again, unless a read is under way; called with each snapshot.
 * @param {boolean} paired the snapshot's status.ha
 */
export async function refreshHa(paired) {
  if (!paired) {
    shown = null;
    $('ha').hidden = true;
    return;
  }
  if (reading) return;
  reading = true;
  try {
    const res = await fetch('/api/v1/ha', { headers: authHeaders() });
    if (res.status === 404) {
      shown = null;
      $('ha').hidden = true;
      return;
    }
    // a refused token or a failed read leaves the panel as it was; the stream says what is wrong
    if (!res.ok) return;
    renderHa(/** @type {HaStatus} */ (await res.json()));
  } catch {
    // furiwake did not answer: the stream's indicator says so
  } finally {
    reading = false;
  }
}

/** @param {HaStatus} s */
export function renderHa(s) {
  shown = s;
  $('ha').hidden = false;
  renderSync(s);
  const c = s.conntrack;
  $('ha-conntrack-row').hidden = c === null;
  if (c !== null) $('ha-conntrack').textContent = `${c.running ? `running (pid ${c.pid ?? '?'})` : 'not running'}, ${c.restarts} restart${c.restarts === 1 ? '' : 's'}`;
  // an ha section with only a sync link: this node moves no VIP, so there is no role to show
  const v = s.vrrp;
  $('ha-vrrp').hidden = v === null;
  if (v === null) return;
  const role = $('ha-role');
  role.dataset.role = v.role;
  role.textContent = v.role;
  // a handover puts the node in fault on purpose: say that rather than what fault usually means
  $('ha-meaning').textContent = v.handedOver
    ? 'This node has handed the VIPs over to the peer and keeps away from them until taken back.'
    : `This node ${MEANING[v.role]}.`;
  fill($('ha-vips'), ...v.vips.flatMap((vip, i) => [i > 0 ? ' ' : null, h('span', { class: 'mono vip' }, vip)]));
  $('ha-router').textContent = `${v.interface}, router-id ${v.routerId}`;
  $('ha-priority').textContent = String(v.priority);
  const fit = $('ha-fit');
  fit.dataset.unfit = String(v.unfit !== null);
  fit.textContent = v.unfit === null ? 'fit' : `unfit: ${v.unfit}`;
  $('ha-handed').textContent = v.handedOver ? 'yes: the VIPs stay with the peer until taken back' : 'no';
  const k = v.keepalived;
  $('ha-keepalived').textContent = `${k.running ? `running (pid ${k.pid ?? '?'})` : 'not running'}, ${k.restarts} restart${k.restarts === 1 ? '' : 's'}`;
  const now = Date.now();
  const transitions = v.transitions.slice(-SHOWN_TRANSITIONS).reverse().map((t) => h('li', {},
    h('span', { class: 'mono' }, `${t.from} → ${t.to}`), ' ',
    h('span', { class: 'sub-inline' }, `${duration((now - t.at) / 1000)} ago: ${t.reason}`)));
  fill($('ha-transitions'), ...(transitions.length > 0 ? transitions : [h('li', { class: 'none' }, 'none yet')]));
  const button = $('ha-handover', HTMLButtonElement);
  button.textContent = v.handedOver ? 'Take back' : 'Hand over';
  button.setAttribute('aria-label', v.handedOver ? 'take the VIPs back from the peer' : 'hand the VIPs over to the peer');
}

/** @param {HaStatus} s */
function renderSync(s) {
  $('ha-sync').hidden = s.sync === null;
  if (s.sync === null) return;
  const now = Date.now();
  const rows = s.sync.peers.map((p) => h('tr', { dataset: { connected: String(p.connected) } },
    h('td', { class: 'mono' }, p.peer),
    h('td', {}, p.connected ? 'connected' : 'not connected'),
    h('td', { class: 'num' }, p.lastSync === null ? h('span', { class: 'none' }, 'never') : `${duration((now - p.lastSync) / 1000)} ago`),
    h('td', { class: 'num' }, p.sent),
    h('td', { class: 'num' }, p.received),
    h('td', { class: 'num' }, p.authFailures),
  ));
  fill($('ha-sync-peers'), ...rows);
}

/** Hands the VIPs over, or takes them back, as the button says. */
export async function handover() {
  if (shown === null || shown.vrrp === null) return;
  const on = !shown.vrrp.handedOver;
  const answer = await write('/api/v1/ha/handover', 'POST', { on });
  if (answer === null) return;
  renderHa(/** @type {HaStatus} */ (answer));
  toast(on ? 'Handed over: the peer takes the VIPs and keeps them until you take them back.' : 'Taken back: the election decides again who holds the VIPs.');
}
