// @ts-check
// furiwake dashboard: follows /api/v1/events (a snapshot each second, member changes as they
// happen) and draws services, pools, connections and stick tables. The parts: dom.js (building
// elements, the toast), format.js, auth.js (the token, writes), events.js (the stream), model.js
// (what the page knows), renderers.js (drawing), stick.js (stick table search), ha.js (the pair
// this node belongs to). This file wires them and handles the member buttons.

import { setAccess, setupTokenDialog, write } from './auth.js';
import { $, toast } from './dom.js';
import { follow } from './events.js';
import { handover, refreshHa } from './ha.js';
import { applySnapshot, mergeMember, model } from './model.js';
import { ACTIONS, isAction, render, renderPools, renderSummary } from './renderers.js';
import { searchStick } from './stick.js';

/** @typedef {import('./renderers.js').Action} Action */
/** @typedef {import('../schemas.ts').MemberView} MemberView */

/** @param {import('../schemas.ts').MemberStateView} m */
function showMember(m) {
  if (!mergeMember(m) || model.snapshot === null) return;
  renderPools(model.snapshot);
  renderSummary(model.snapshot);
}

/**
 * @param {string} pool
 * @param {string} id
 * @param {Action} action
 */
async function memberAction(pool, id, action) {
  const path = `/api/v1/pools/${encodeURIComponent(pool)}/members/${encodeURIComponent(id)}`;
  const answer = await write(path, 'PATCH', { state: ACTIONS[action].state });
  if (answer === null) return;
  const member = /** @type {MemberView} */ (answer);
  showMember(member);
  toast(ACTIONS[action].done(member));
  // the pressed button is now disabled and has lost focus: give it to the one that undoes it
  const active = document.activeElement;
  if (active === null || active === document.body || (active instanceof HTMLButtonElement && active.disabled)) {
    const row = document.querySelector(`[data-pool="${CSS.escape(pool)}"] tr[data-member="${CSS.escape(id)}"]`);
    const undo = row?.querySelector(`button[data-action="${action === 'enable' ? 'drain' : 'enable'}"]`);
    if (undo instanceof HTMLButtonElement) undo.focus();
  }
}

setupTokenDialog();
// one listener for every member button, however often the rows are drawn again
$('pool-list').addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
  if (!(button instanceof HTMLButtonElement)) return;
  const action = button.dataset.action ?? '';
  const pool = button.closest('[data-pool]');
  const row = button.closest('tr[data-member]');
  if (!isAction(action) || !(pool instanceof HTMLElement) || !(row instanceof HTMLElement)) return;
  void memberAction(pool.dataset.pool ?? '', row.dataset.member ?? '', action);
});
$('ha-handover').addEventListener('click', () => void handover());
$('stick-search').addEventListener('submit', (event) => {
  event.preventDefault();
  void searchStick();
});
void follow({
  snapshot: (s) => {
    setAccess(s.status.auth);
    applySnapshot(s);
    render(s);
    void refreshHa(s.status.ha);
  },
  member: showMember,
});
