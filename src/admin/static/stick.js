// @ts-check
// Searching a stick table by key, and forgetting an entry (the kernel's tables are read-only).

import { authHeaders, write } from './auth.js';
import { $, fill, h, toast } from './dom.js';
import { duration } from './format.js';
import { model } from './model.js';

/** @typedef {{ total: number, items: import('../schemas.ts').StickEntryView[] }} StickPage */

export async function searchStick() {
  const service = $('stick-service', HTMLSelectElement).value;
  if (service === '') return;
  const query = new URLSearchParams({ limit: '100' });
  const k = $('stick-key', HTMLInputElement).value.trim();
  if (k !== '') query.set('key', k);
  const res = await fetch(`/api/v1/stick-tables/${encodeURIComponent(service)}?${query}`, { headers: authHeaders() });
  const answer = await res.json();
  if (!res.ok) {
    toast(/** @type {{ error: string }} */ (answer).error, 'error');
    return;
  }
  const page = /** @type {StickPage} */ (answer);
  $('stick-entries-table').hidden = false;
  // the kernel's tables (nat, dsr) are read-only: their entries expire on their own
  const kernel = model.snapshot?.stickTables.find((t) => t.service === service)?.kernel === true;
  const rows = page.items.map((e) => {
    const who = h('td', {}, e.member === null ? h('span', { class: 'none' }, 'gone from the pool') : `${e.pool}/${e.member}`);
    if (kernel) return h('tr', {}, h('td', { class: 'mono' }, e.key), who, h('td', { class: 'num' }, duration(e.expiresIn / 1000)), h('td'));
    const forget = h('button', { type: 'button', 'aria-label': `forget ${e.key}` }, 'Forget');
    forget.addEventListener('click', async () => {
      const done = await write(`/api/v1/stick-tables/${encodeURIComponent(service)}/entries/${encodeURIComponent(e.key)}`, 'DELETE');
      if (done !== null) {
        toast(`${e.key} is forgotten: its next connection is balanced afresh.`);
        void searchStick();
      }
    });
    return h('tr', {}, h('td', { class: 'mono' }, e.key), who, h('td', { class: 'num' }, duration(e.expiresIn / 1000)), h('td', {}, h('div', { class: 'actions' }, forget)));
  });
  const more = page.total > page.items.length ? [h('tr', {}, h('td', { colspan: 4, class: 'empty' }, `${page.total - page.items.length} more; narrow the search.`))] : [];
  fill($('stick-entries'), ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No entry matches.'))]), ...more);
}
