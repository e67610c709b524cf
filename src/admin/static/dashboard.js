// furiwake dashboard: follows /api/v1/events (a snapshot each second, member changes as they
// happen) and draws services, pools, connections and stick tables. Rows are kept and updated in
// place, so keyboard focus stays where it is while the numbers move. Text from the server is
// always set as text, never as HTML (an agent's message comes from a member).

const TOKEN_KEY = 'furiwake.admin-token';
const HISTORY = 60;

const state = {
  /** the last snapshot, with member changes merged in */
  snapshot: null,
  /** per member (pool/id): new connections in each of the last seconds, oldest first */
  history: new Map(),
  /** per member: connections total at the last snapshot */
  totals: new Map(),
  auth: { reads: 'open', writes: 'token' },
};

const $ = (id) => document.getElementById(id);

/** Builds an element; children are nodes or text (set as text). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** Replaces an element's children; null, undefined and false are skipped, text is set as text. */
function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : String(c))));
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// ---- formatting ---------------------------------------------------------------------------

function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function rate(n) {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function endpoint(e) {
  if (e === null) return '…';
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

const key = (m) => `${m.pool}/${m.id}`;

// ---- token --------------------------------------------------------------------------------

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function authHeaders() {
  const t = token();
  return t === null ? {} : { authorization: `Bearer ${t}` };
}

let asking = null;
/** the event stream, waiting for a token after the reader cancelled the dialog */
const tokenWaiters = [];

/** Opens the token dialog; resolves true when a token was given. */
function askToken(why, error = '') {
  if (asking !== null) return asking;
  const dialog = $('token-dialog');
  $('token-why').textContent = why;
  $('token-error').textContent = error;
  $('token-input').value = '';
  asking = new Promise((resolve) => {
    const done = (given) => {
      dialog.removeEventListener('close', onClose);
      asking = null;
      renderTokenButton();
      resolve(given);
    };
    const onClose = () => done(dialog.returnValue === 'saved');
    dialog.addEventListener('close', onClose);
  });
  dialog.returnValue = '';
  dialog.showModal();
  $('token-input').focus();
  return asking;
}

function setupTokenDialog() {
  const dialog = $('token-dialog');
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('token-input').value.trim();
    if (value.length < 16) {
      $('token-error').textContent = 'A token has at least 16 characters.';
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, value);
    dialog.close('saved');
    for (const resolve of tokenWaiters.splice(0)) resolve();
  });
  $('token-cancel').addEventListener('click', () => dialog.close('cancelled'));
  $('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    dialog.close('cancelled');
    toast('The token is forgotten in this tab.');
  });
  $('token-button').addEventListener('click', () => {
    void askToken('Changing members needs the admin token (admin.token in the config).');
  });
  renderTokenButton();
}

function renderTokenButton() {
  const b = $('token-button');
  const has = token() !== null;
  b.textContent = has ? 'Token ✓' : 'Token';
  b.setAttribute('aria-label', has ? 'Admin token set for this tab; change or forget it' : 'Enter the admin token');
}

// ---- writes -------------------------------------------------------------------------------

/** A write through the API, asking for the token when it is needed or refused. */
async function write(path, method, body) {
  let error = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (state.auth.writes === 'token' && token() === null) {
      const given = await askToken('Changing members needs the admin token (admin.token in the config).', error);
      if (!given) return null;
    }
    const headers = { ...authHeaders() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      toast(`furiwake did not answer: ${err.message}`, 'error');
      return null;
    }
    const json = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      renderTokenButton();
      error = json.error;
      continue;
    }
    if (!res.ok) {
      toast(json.error, 'error');
      return null;
    }
    return json;
  }
  return null;
}

const ACTIONS = {
  drain: { state: 'drain', done: (m) => `${m.pool}/${m.id} is draining: it keeps its connections and persistent clients, and takes no new ones.` },
  disable: { state: 'disabled', done: (m) => `${m.pool}/${m.id} is disabled: it takes nothing new.` },
  enable: { state: 'enabled', done: (m) => `${m.pool}/${m.id} is enabled.` },
};

async function memberAction(pool, id, action) {
  const path = `/api/v1/pools/${encodeURIComponent(pool)}/members/${encodeURIComponent(id)}`;
  const member = await write(path, 'PATCH', { state: ACTIONS[action].state });
  if (member === null) return;
  mergeMember(member);
  toast(ACTIONS[action].done(member));
  // the pressed button is now disabled and has lost focus: give it to the one that undoes it
  const active = document.activeElement;
  if (active === null || active === document.body || active.disabled) {
    const row = document.querySelector(`[data-pool="${CSS.escape(pool)}"] tr[data-member="${CSS.escape(id)}"]`);
    row?.querySelector(`button[data-action="${action === 'enable' ? 'drain' : 'enable'}"]`)?.focus();
  }
}

// ---- toast --------------------------------------------------------------------------------

let toastTimer = null;
function toast(text, kind = 'info') {
  const el = $('toast');
  el.textContent = text;
  el.dataset.kind = kind;
  el.classList.add('shown');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('shown'), kind === 'error' ? 8000 : 4000);
}

// ---- the live stream ----------------------------------------------------------------------

function setLive(kind, text) {
  const el = $('live');
  el.dataset.state = kind;
  $('live-text').textContent = text;
}

async function follow() {
  let wait = 1000;
  for (;;) {
    try {
      const res = await fetch('/api/v1/events', { headers: authHeaders() });
      if (res.status === 401) {
        setLive('error', 'needs the token');
        const hadToken = token() !== null;
        sessionStorage.removeItem(TOKEN_KEY);
        const json = await res.json().catch(() => ({}));
        const given = await askToken('Reading this furiwake needs the admin token (admin.read-token-required).', hadToken ? json.error ?? '' : '');
        // cancelled: wait until a token is given through the Token button rather than ask again at once
        if (!given) await new Promise((resolve) => tokenWaiters.push(resolve));
        continue;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      setLive('live', 'live');
      wait = 1000;
      await readEvents(res.body);
      setLive('error', 'reconnecting…');
    } catch (err) {
      setLive('error', `reconnecting… (${err.message})`);
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 15000);
  }
}

async function readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length === 0) continue;
      const payload = JSON.parse(data.join('\n'));
      if (event === 'snapshot') applySnapshot(payload);
      else if (event === 'member') mergeMember(payload.member);
    }
  }
}

function applySnapshot(s) {
  state.auth = s.status.auth;
  for (const pool of s.pools) {
    for (const m of pool.members) {
      const k = key(m);
      if (m.history !== undefined) {
        state.history.set(k, m.history.slice(-HISTORY));
      } else {
        const h = state.history.get(k) ?? new Array(HISTORY).fill(0);
        const last = state.totals.get(k);
        h.push(last === undefined ? 0 : Math.max(0, m.connections.total - last));
        while (h.length > HISTORY) h.shift();
        state.history.set(k, h);
      }
      state.totals.set(k, m.connections.total);
    }
  }
  state.snapshot = s;
  render();
}

/** A member's new state (an event, or a write's answer): merged into the snapshot and redrawn. */
function mergeMember(m) {
  const pool = state.snapshot?.pools.find((p) => p.name === m.pool);
  const member = pool?.members.find((x) => x.id === m.id);
  if (member === undefined) return;
  Object.assign(member, m, { connections: member.connections, bytes: member.bytes, rates: member.rates, share: member.share });
  pool.usable = pool.members.filter((x) => x.usable).length;
  renderPools(state.snapshot);
  renderSummary(state.snapshot);
}

// ---- drawing ------------------------------------------------------------------------------

function render() {
  const s = state.snapshot;
  renderSummary(s);
  renderServices(s);
  renderPools(s);
  renderConnections(s);
  renderStickSummary(s);
}

function renderSummary(s) {
  // counted from the pools, so that a member event shows at once, between snapshots
  const members = { total: 0, usable: 0, down: 0 };
  for (const m of s.pools.flatMap((p) => p.members)) {
    members.total++;
    if (m.usable) members.usable++;
    if (m.health === 'down') members.down++;
  }
  $('sum-members').textContent = `${members.usable} / ${members.total}`;
  $('sum-connections').textContent = String(s.connections.total);
  $('sum-services').textContent = String(s.status.services);
  $('sum-uptime').textContent = duration(s.status.uptime);
  document.title = members.down > 0 ? `(${members.down} down) furiwake` : 'furiwake';
}

function renderServices(s) {
  const rows = s.services.map((svc) => h('tr', {},
    h('td', {}, h('span', { class: 'member-id' }, svc.name)),
    h('td', {}, svc.mode),
    h('td', { class: 'mono' }, svc.address === null ? `${svc.listen} (not listening)` : endpoint(svc.address)),
    h('td', {}, svc.pool),
    h('td', { class: 'num' }, svc.connections.active),
    h('td', { class: 'num' }, svc.connections.total),
    h('td', {}, svc.persistence ?? h('span', { class: 'none' }, '–')),
  ));
  fill($('services'), ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No services.'))]));
}

function renderPools(s) {
  const list = $('pool-list');
  const wanted = s.pools.map((p) => p.name);
  for (const el of [...list.children]) if (!wanted.includes(el.dataset.pool)) el.remove();
  for (const pool of s.pools) {
    let el = list.querySelector(`[data-pool="${CSS.escape(pool.name)}"]`);
    const signature = pool.members.map((m) => m.id).join('\n');
    if (el === null || el.dataset.signature !== signature) {
      const fresh = poolSection(pool);
      fresh.dataset.signature = signature;
      if (el === null) list.append(fresh);
      else el.replaceWith(fresh);
      el = fresh;
    }
    updatePoolHeader(el, pool);
    for (const m of pool.members) updateMemberRow(el.querySelector(`tr[data-member="${CSS.escape(m.id)}"]`), m);
  }
}

function poolSection(pool) {
  const id = `pool-${pool.name}`;
  const rows = pool.members.map((m) => {
    const tr = h('tr', { dataset: { member: m.id } });
    for (let i = 0; i < 8; i++) tr.append(h('td'));
    for (const i of [5, 6, 7]) tr.children[i].className = 'num';
    tr.append(actionsCell(pool.name, m.id));
    return tr;
  });
  return h('article', { class: 'pool', 'aria-labelledby': id, dataset: { pool: pool.name } },
    h('header', {}, h('h3', { id }, pool.name), h('span', { class: 'meta' })),
    h('table', { class: 'grid members' },
      h('thead', {}, h('tr', {},
        ...['state', 'member', 'health', 'agent', 'weight'].map((t) => h('th', { scope: 'col' }, t)),
        h('th', { scope: 'col', class: 'num' }, 'connections'),
        h('th', { scope: 'col', class: 'num' }, 'new / s'),
        h('th', { scope: 'col', class: 'num' }, 'share'),
        h('th', { scope: 'col', class: 'num' }, h('span', { class: 'visually-hidden' }, 'actions')),
      )),
      h('tbody', {}, rows),
    ),
  );
}

function actionsCell(pool, id) {
  const group = h('div', { class: 'actions', role: 'group', 'aria-label': `${pool}/${id}` });
  for (const action of ['drain', 'disable', 'enable']) {
    const b = h('button', { type: 'button', dataset: { action }, 'aria-label': `${action} ${pool}/${id}` }, action[0].toUpperCase() + action.slice(1));
    b.addEventListener('click', () => void memberAction(pool, id, action));
    group.append(b);
  }
  return h('td', {}, group);
}

function updatePoolHeader(el, pool) {
  const meta = el.querySelector('.meta');
  const health = pool.health.monitors.length === 0 ? 'no monitors' : `${pool.health.monitors.join(' + ')} (${pool.health.require})`;
  fill(meta,
    h('b', {}, pool.algorithm), ' · ',
    h('b', {}, `${pool.usable}/${pool.members.length}`), ' usable · ',
    'health ', health, pool.health.agent ? ' + agent' : '', ' · ',
    'queue ', h('b', {}, `${pool.queue.length}/${pool.queue.max}`),
    pool.queue.timeouts > 0 ? ` (${pool.queue.timeouts} timed out)` : '',
    pool.services.length > 0 ? ` · serves ${pool.services.join(', ')}` : '',
  );
}

function updateMemberRow(tr, m) {
  if (tr === null) return;
  tr.dataset.status = m.status;
  const [stateCell, memberCell, healthCell, agentCell, weightCell, connCell, rateCell, shareCell, actions] = tr.children;
  fill(stateCell, h('span', { class: 'badge', title: m.healthReason || m.status }, m.status));
  fill(memberCell,
    h('span', { class: 'member-id' }, m.id), m.backup ? h('span', { class: 'backup' }, 'backup') : null,
    h('span', { class: 'sub member-addr' }, m.address),
  );
  fill(healthCell, m.checks.length === 0
    ? h('span', { class: 'none' }, m.health === 'up' ? 'no monitors' : m.healthReason)
    : h('ul', { class: 'checks' }, m.checks.map((c) => h('li', {},
      h('span', { class: 'check-type', dataset: { state: c.state }, title: c.at === 0 ? 'not checked yet' : `${c.state}; the last check ${c.up ? 'passed' : 'failed'} in ${c.latency} ms` }, `${c.at === 0 ? '…' : c.up ? '✓' : '✗'} ${c.type}`),
      h('span', { class: 'check-reason' }, c.reason),
    ))));
  fill(agentCell, m.agent === null
    ? h('span', { class: 'none' }, '–')
    : h('div', { class: 'agent' }, h('span', { class: 'word' }, m.agent.state), m.agent.percent !== 100 ? ` ${m.agent.percent}%` : '',
      h('span', { class: 'sub msg' }, m.agent.message)));
  fill(weightCell, String(m.weight), m.effectiveWeight !== m.weight ? h('span', { class: 'sub' }, `effective ${m.effectiveWeight}`) : null,
    m.maxConnections > 0 ? h('span', { class: 'sub' }, `max ${m.maxConnections} conns`) : null);
  if (m.connections !== undefined) {
    fill(connCell, h('strong', {}, m.connections.active), h('span', { class: 'sub' }, `${m.connections.total} total${m.connections.failed > 0 ? ` · ${m.connections.failed} failed` : ''}`));
    fill(rateCell, h('div', { class: 'rate' }, sparkline(state.history.get(key(m)) ?? []), h('span', {}, rate(m.rates.connections))));
    fill(shareCell, h('div', { class: 'share' },
      h('span', { class: 'bar', role: 'img', 'aria-label': `${Math.round(m.share * 100)}% of the pool's connections` }, h('span', { style: null })),
      h('span', {}, `${Math.round(m.share * 100)}%`)));
    shareCell.querySelector('.bar span').style.width = `${Math.round(m.share * 100)}%`;
  }
  for (const b of actions.querySelectorAll('button')) {
    const target = ACTIONS[b.dataset.action].state;
    b.disabled = m.admin === target;
  }
}

/** New connections in each second of the last minute, as small bars in an inline SVG. */
function sparkline(values) {
  const w = 120;
  const hgt = 24;
  const max = Math.max(1, ...values);
  const slot = w / HISTORY;
  const offset = HISTORY - values.length;
  let d = '';
  values.forEach((v, i) => {
    if (v <= 0) return;
    const bar = Math.max(1.5, (v / max) * (hgt - 2));
    d += `M${((offset + i) * slot).toFixed(1)},${hgt}v-${bar.toFixed(1)}h${(slot - 0.5).toFixed(1)}v${bar.toFixed(1)}z`;
  });
  const el = svg('svg', { width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': `new connections per second over the last minute; peak ${max}` });
  el.append(svg('line', { x1: 0, y1: hgt - 0.5, x2: w, y2: hgt - 0.5 }));
  if (d !== '') el.append(svg('path', { d }));
  return el;
}

function renderConnections(s) {
  const { total, recent } = s.connections;
  $('connections-count').textContent = total > recent.length ? `${total} (the newest ${recent.length} shown)` : `${total}`;
  const now = s.at;
  const arrow = () => h('span', { class: 'arrow' }, '→');
  const rows = recent.map((c) => {
    // where it goes after the balancer: the member (user space), or the kernel's target (nat, dsr)
    const target = c.kernel !== null ? c.kernel.target : c.member === null ? null : { address: c.member.address, port: c.member.port };
    const after = target === null ? ['queued / connecting'] : c.balancer === null ? [endpoint(target)] : [endpoint(c.balancer), arrow(), endpoint(target)];
    const notes = [
      c.member === null ? null : `${c.member.pool}/${c.member.id}`,
      c.request === null ? null : `${c.request.method} ${c.request.path}`,
      c.kernel === null ? null : `${c.kernel.mode} in the kernel · ${c.kernel.state}`,
    ].filter((x) => x !== null);
    return h('tr', {},
      h('td', {}, c.service, h('span', { class: 'sub' }, c.protocol)),
      h('td', {}, h('span', { class: 'path' }, endpoint(c.client), arrow(), endpoint(c.vip), h('span', { class: 'lb' }, '⇒'), after),
        h('span', { class: 'sub' }, notes.join(' · '))),
      h('td', { class: 'num' }, c.bytesIn === null ? '–' : bytes(c.bytesIn)),
      h('td', { class: 'num' }, c.bytesOut === null ? '–' : bytes(c.bytesOut)),
      h('td', { class: 'num' }, c.startedAt === null ? '–' : duration((now - c.startedAt) / 1000)),
    );
  });
  fill($('connections'), ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No live connections.'))]));
}

// ---- stick tables -------------------------------------------------------------------------

function renderStickSummary(s) {
  const tables = s.stickTables;
  $('stick-empty').hidden = tables.length > 0;
  $('stick-summary-table').hidden = tables.length === 0;
  $('stick-search').hidden = tables.length === 0;
  fill($('stick-summary'), ...tables.map((t) => h('tr', {},
    h('td', {}, t.service), h('td', {}, t.kernel ? `${t.method} (in the kernel)` : t.method),
    ...[t.size, t.capacity, t.hits, t.misses, t.expirations, t.evictions].map((n) => h('td', { class: 'num' }, n ?? '–')))));
  const select = $('stick-service');
  const names = tables.map((t) => t.service);
  if ([...select.options].map((o) => o.value).join() !== names.join()) {
    const chosen = select.value;
    fill(select, ...names.map((n) => h('option', { value: n, selected: n === chosen }, n)));
  }
}

async function searchStick() {
  const service = $('stick-service').value;
  if (service === '') return;
  const query = new URLSearchParams({ limit: '100' });
  const k = $('stick-key').value.trim();
  if (k !== '') query.set('key', k);
  const res = await fetch(`/api/v1/stick-tables/${encodeURIComponent(service)}?${query}`, { headers: authHeaders() });
  const page = await res.json();
  if (!res.ok) {
    toast(page.error, 'error');
    return;
  }
  $('stick-entries-table').hidden = false;
  // the kernel's tables (nat, dsr) are read-only: their entries expire on their own
  const kernel = state.snapshot?.stickTables.find((t) => t.service === service)?.kernel === true;
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

// ---- start --------------------------------------------------------------------------------

setupTokenDialog();
$('stick-search').addEventListener('submit', (event) => {
  event.preventDefault();
  void searchStick();
});
void follow();
