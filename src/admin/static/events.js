// @ts-check
// The live stream, /api/v1/events: a snapshot at once and each second, member changes as they
// happen. Reconnects with a growing pause; asks for the token when reads need it.

import { askToken, authHeaders, forgetToken, token, tokenGiven } from './auth.js';
import { $ } from './dom.js';

/** @typedef {import('../schemas.ts').Snapshot} Snapshot */
/** @typedef {import('../schemas.ts').MemberStateView} MemberStateView */

/**
 * @typedef {object} Handlers
 * @property {(snapshot: Snapshot) => void} snapshot
 * @property {(member: MemberStateView) => void} member
 */

/**
 * @param {'connecting' | 'live' | 'error'} kind
 * @param {string} text
 */
function setLive(kind, text) {
  $('live').dataset.state = kind;
  $('live-text').textContent = text;
}

/**
 * Follows the stream for as long as the page is open.
 * @param {Handlers} on
 */
export async function follow(on) {
  let wait = 1000;
  for (;;) {
    try {
      const res = await fetch('/api/v1/events', { headers: authHeaders() });
      if (res.status === 401) {
        setLive('error', 'needs the token');
        const hadToken = token() !== null;
        forgetToken();
        /** @type {{ error?: string }} */
        const json = await res.json().catch(() => ({}));
        const given = await askToken('Reading this furiwake needs the admin token (admin.read-token-required).', hadToken ? json.error ?? '' : '');
        // cancelled: wait until a token is given through the Token button rather than ask again at once
        if (!given) await tokenGiven();
        continue;
      }
      if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`);
      setLive('live', 'live');
      wait = 1000;
      await readEvents(res.body, on);
      setLive('error', 'reconnecting…');
    } catch (err) {
      setLive('error', `reconnecting… (${err instanceof Error ? err.message : String(err)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 15000);
  }
}

/**
 * Splits the stream into its events (text/event-stream: blocks ended by a blank line).
 * @param {ReadableStream<Uint8Array>} body
 * @param {Handlers} on
 */
async function readEvents(body, on) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
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
      if (event === 'snapshot') on.snapshot(payload);
      else if (event === 'member') on.member(payload.member);
    }
  }
}
