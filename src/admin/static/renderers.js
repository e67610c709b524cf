// @ts-check
// Drawing a snapshot: the summary, services, pools with their members, connections and the
// stick tables' summary. Member rows are kept and updated in place, so keyboard focus stays
// where it is while the numbers move. The member buttons carry data-action; the page handles
// their clicks in one place (dashboard.js).

import { $, fill, h, svg } from './dom.js';
import { bytes, duration, endpoint, rate } from './format.js';
import { HISTORY, memberKey, model } from './model.js';

/** @typedef {import('../schemas.ts').Snapshot} Snapshot */
/** @typedef {import('../schemas.ts').PoolView} PoolView */
/** @typedef {import('../schemas.ts').MemberView} MemberView */
/** @typedef {'drain' | 'disable' | 'enable'} Action */

/** @type {Record<Action, { state: 'drain' | 'disabled' | 'enabled', done: (m: { pool: string, id: string }) => string }>} */
export const ACTIONS = {
  drain: { state: 'drain', done: (m) => `${m.pool}/${m.id} is draining: it keeps its connections and persistent clients, and takes no new ones.` },
  disable: { state: 'disabled', done: (m) => `${m.pool}/${m.id} is disabled: it takes nothing new.` },
  enable: { state: 'enabled', done: (m) => `${m.pool}/${m.id} is enabled.` },
};

/** @param {string} name @returns {name is Action} */
export function isAction(name) {
  return Object.hasOwn(ACTIONS, name);
}

/** @param {Snapshot} s */
export function render(s) {
  renderSummary(s);
  renderServices(s);
  renderPools(s);
  renderConnections(s);
  renderStickSummary(s);
}

/** @param {Snapshot} s */
export function renderSummary(s) {
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

/** @param {Snapshot} s */
function renderServices(s) {
  const none = () => h('span', { class: 'none' }, '–');
  const rows = s.services.map((svc) => h('tr', { 'data-service': svc.name },
    // clients the service's access turned away, under its name when there are any
    h('td', {}, h('span', { class: 'member-id' }, svc.name), svc.denied > 0 ? h('span', { class: 'sub', title: 'clients its access turned away' }, `${svc.denied} denied`) : null),
    h('td', {}, svc.mode),
    h('td', { class: 'mono' }, svc.address === null ? `${svc.listen} (not listening)` : endpoint(svc.address)),
    // http routes: how many, each with what it took in the cell's title
    h('td', { title: svc.routes === null ? null : routesWhy(svc.routes, svc.mode) }, svc.pool, svc.routes === null ? null : h('span', { class: 'sub' }, `${svc.routes.length} route${svc.routes.length === 1 ? '' : 's'}`)),
    // http: the open client connections by HTTP version
    h('td', { class: 'num', 'data-protocols': 'connections' }, svc.connections.active, svc.protocols === null ? null : h('span', { class: 'sub' }, connectionsSplit(svc.protocols.connections))),
    h('td', { class: 'num' }, svc.connections.total),
    h('td', { class: 'num' }, rate(svc.rates.connections)),
    // an http connection carries many requests: they are counted apart, split by the client's
    // HTTP version, and in the title by how members were spoken to
    h('td', { class: 'num', 'data-protocols': 'requests', title: svc.protocols === null ? null : requestsWhy(svc.protocols.requests) },
      svc.requests ?? none(), svc.protocols === null || svc.protocols.requests.length === 0 ? null : h('span', { class: 'sub' }, requestsSplit(svc.protocols.requests))),
    h('td', { class: 'num' }, svc.requests === null ? none() : rate(svc.rates.requests)),
    h('td', {}, svc.persistence ?? none()),
    // udp services furiwake forwards itself: datagrams dropped, by reason in the cell's title
    h('td', { class: 'num', title: svc.dropped === null ? null : droppedWhy(svc.dropped) }, svc.dropped === null ? none() : svc.dropped.malformed + svc.dropped.unmatched + svc.dropped.noMember + svc.dropped.denied),
  ));
  fill($('services'), ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: 11, class: 'empty' }, 'No services.'))]));
}

/** @typedef {NonNullable<Snapshot['services'][number]['protocols']>} Protocols */

/**
 * Open http client connections by HTTP version, in words.
 * @param {Protocols['connections']} c
 */
function connectionsSplit(c) {
  return `HTTP/1 ${c.http1} · HTTP/2 ${c.http2}`;
}

/**
 * Requests by the client's HTTP version (HTTP/1.0 and 1.1 together), in words.
 * @param {Protocols['requests']} requests
 */
function requestsSplit(requests) {
  let http1 = 0;
  let http2 = 0;
  for (const r of requests) {
    if (r.protocol === 'HTTP/2') http2 += r.count;
    else http1 += r.count;
  }
  return `HTTP/1 ${http1} · HTTP/2 ${http2}`;
}

/**
 * Requests by the client's protocol and the member's, one pair a line.
 * @param {Protocols['requests']} requests
 */
function requestsWhy(requests) {
  return requests.map((r) => `${r.protocol} → ${r.memberProtocol === '' ? 'answered by furiwake' : r.memberProtocol}: ${r.count}`).join('\n');
}

/**
 * A service's routes in the order they are tried, each with its action and counters (tcp: connections).
 * @param {{ name: string, action: string, pool: string | null, requests: number, errors: number, meanLatency: number, connections: number, denied: number }[]} routes
 * @param {string} mode
 */
function routesWhy(routes, mode) {
  if (mode === 'tcp') return routes.map((r) => `${r.name} → ${r.pool ?? r.action}: ${r.connections} connections, ${r.denied} denied`).join('\n');
  return routes.map((r) => `${r.name} → ${r.pool ?? r.action}: ${r.requests} requests, ${r.errors} 5xx, ${r.meanLatency} ms mean, ${r.denied} denied`).join('\n');
}

/**
 * The reasons a udp service dropped datagrams, in words.
 * @param {{ malformed: number, unmatched: number, noMember: number, denied: number }} d
 */
function droppedWhy(d) {
  return `${d.malformed} malformed from clients, ${d.unmatched} from members answering nothing sent, ${d.noMember} with no usable member, ${d.denied} from clients not allowed`;
}

/** @param {Snapshot} s */
export function renderPools(s) {
  const list = $('pool-list');
  const wanted = s.pools.map((p) => p.name);
  for (const el of [...list.children]) if (el instanceof HTMLElement && !wanted.includes(el.dataset.pool ?? '')) el.remove();
  for (const pool of s.pools) {
    let el = list.querySelector(`[data-pool="${CSS.escape(pool.name)}"]`);
    const signature = pool.members.map((m) => m.id).join('\n');
    if (!(el instanceof HTMLElement) || el.dataset.signature !== signature) {
      const fresh = poolSection(pool);
      fresh.dataset.signature = signature;
      if (el === null) list.append(fresh);
      else el.replaceWith(fresh);
      el = fresh;
    }
    updatePoolHeader(el, pool);
    for (const m of pool.members) {
      const tr = el.querySelector(`tr[data-member="${CSS.escape(m.id)}"]`);
      if (tr instanceof HTMLTableRowElement) updateMemberRow(tr, m);
    }
  }
}

/** @param {PoolView} pool */
function poolSection(pool) {
  const id = `pool-${pool.name}`;
  const rows = pool.members.map((m) => {
    const tr = h('tr', { dataset: { member: m.id } });
    for (let i = 0; i < 8; i++) tr.append(h('td', i >= 5 ? { class: 'num' } : {}));
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

/** @param {string} pool @param {string} id */
function actionsCell(pool, id) {
  const group = h('div', { class: 'actions', role: 'group', 'aria-label': `${pool}/${id}` });
  for (const action of /** @type {Action[]} */ (Object.keys(ACTIONS))) {
    group.append(h('button', { type: 'button', dataset: { action }, 'aria-label': `${action} ${pool}/${id}` }, action[0].toUpperCase() + action.slice(1)));
  }
  return h('td', {}, group);
}

/** @param {Element} el @param {PoolView} pool */
function updatePoolHeader(el, pool) {
  const meta = el.querySelector('.meta');
  if (meta === null) return;
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

/** @param {HTMLTableRowElement} tr @param {MemberView} m */
function updateMemberRow(tr, m) {
  tr.dataset.status = m.status;
  const [stateCell, memberCell, healthCell, agentCell, weightCell, connCell, rateCell, shareCell, actions] = tr.children;
  fill(stateCell, h('span', { class: 'badge', title: (m.passive.ejected ? m.passive.reason : m.healthReason) || m.status }, m.status));
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
  // a member event carries no counters: the row keeps the last snapshot's
  if (m.connections !== undefined) {
    const requests = m.requests > 0 ? ` · ${m.requests} requests, ${rate(m.rates.requests)}/s` : '';
    fill(connCell, h('strong', {}, m.connections.active), h('span', { class: 'sub' }, `${m.connections.total} total${m.connections.failed > 0 ? ` · ${m.connections.failed} failed` : ''}${requests}`));
    fill(rateCell, h('div', { class: 'rate' }, sparkline(model.history.get(memberKey(m)) ?? []), h('span', {}, rate(m.rates.connections))));
    const percent = Math.round(m.share * 100);
    const bar = h('span', {});
    bar.style.width = `${percent}%`;
    fill(shareCell, h('div', { class: 'share' },
      h('span', { class: 'bar', role: 'img', 'aria-label': `${percent}% of the pool's connections` }, bar),
      h('span', {}, `${percent}%`)));
  }
  for (const b of actions.querySelectorAll('button')) {
    const action = b.dataset.action ?? '';
    if (isAction(action)) b.disabled = m.admin === ACTIONS[action].state;
  }
}

/**
 * New connections in each second of the last minute, as small bars in an inline SVG.
 * @param {number[]} values
 */
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

/** @param {Snapshot} s */
function renderConnections(s) {
  const { total, recent } = s.connections;
  $('connections-count').textContent = total > recent.length ? `${total} (the newest ${recent.length} shown)` : `${total}`;
  const now = s.at;
  const http = new Set(s.services.filter((svc) => svc.mode === 'http').map((svc) => svc.name));
  const arrow = () => h('span', { class: 'arrow' }, '→');
  const rows = recent.map((c) => {
    // where it goes after the balancer: the member (user space), or the kernel's target (nat, dsr)
    const target = c.kernel !== null ? c.kernel.target : c.member === null ? null : { address: c.member.address, port: c.member.port };
    // an http client's connection has a member only while a request is under way
    const waiting = http.has(c.service) && c.request === null ? 'between requests' : 'queued / connecting';
    const after = target === null ? [waiting] : c.balancer === null ? [endpoint(target)] : [endpoint(c.balancer), arrow(), endpoint(target)];
    const notes = [
      c.member === null ? null : `${c.member.pool}/${c.member.id}${c.memberProtocol === null ? '' : ` over ${c.memberProtocol}`}`,
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

/** @param {Snapshot} s */
function renderStickSummary(s) {
  const tables = s.stickTables;
  $('stick-empty').hidden = tables.length > 0;
  $('stick-summary-table').hidden = tables.length === 0;
  $('stick-search').hidden = tables.length === 0;
  fill($('stick-summary'), ...tables.map((t) => h('tr', {},
    h('td', {}, t.service), h('td', {}, t.kernel ? `${t.method} (in the kernel)` : t.method),
    ...[t.size, t.capacity, t.hits, t.misses, t.expirations, t.evictions].map((n) => h('td', { class: 'num' }, n ?? '–')))));
  const select = $('stick-service', HTMLSelectElement);
  const names = tables.map((t) => t.service);
  if ([...select.options].map((o) => o.value).join() !== names.join()) {
    const chosen = select.value;
    fill(select, ...names.map((n) => h('option', { value: n, selected: n === chosen }, n)));
  }
}
