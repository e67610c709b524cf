// @ts-check
// The admin token: kept in this tab only (sessionStorage), asked for in a dialog when a read or
// a write needs it, and sent as a bearer token. Writes go through write(), which asks again when
// the token is refused.

import { $, toast } from './dom.js';

const TOKEN_KEY = 'furiwake.admin-token';
const WRITE_WHY = 'Changing members needs the admin token (admin.token in the config).';

/** What needs the token, as the last snapshot said. */
const access = { reads: 'open', writes: 'token' };

/** @param {{ reads: string, writes: string }} auth */
export function setAccess(auth) {
  access.reads = auth.reads;
  access.writes = auth.writes;
}

/** @returns {string | null} */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  renderTokenButton();
}

/** @returns {Record<string, string>} */
export function authHeaders() {
  const t = token();
  return t === null ? {} : { authorization: `Bearer ${t}` };
}

/** @type {Promise<boolean> | null} */
let asking = null;
/** @type {(() => void)[]} the event stream, waiting for a token after the reader cancelled the dialog */
const tokenWaiters = [];

/** Resolves once a token is given (through the Token button). */
export function tokenGiven() {
  return new Promise((resolve) => tokenWaiters.push(() => resolve(undefined)));
}

/**
 * Opens the token dialog; resolves true when a token was given.
 * @param {string} why
 * @param {string} [error]
 * @returns {Promise<boolean>}
 */
export function askToken(why, error = '') {
  if (asking !== null) return asking;
  const dialog = $('token-dialog', HTMLDialogElement);
  $('token-why').textContent = why;
  $('token-error').textContent = error;
  $('token-input', HTMLInputElement).value = '';
  asking = new Promise((resolve) => {
    /** @param {boolean} given */
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

export function setupTokenDialog() {
  const dialog = $('token-dialog', HTMLDialogElement);
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('token-input', HTMLInputElement).value.trim();
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
    void askToken(WRITE_WHY);
  });
  renderTokenButton();
}

function renderTokenButton() {
  const b = $('token-button');
  const has = token() !== null;
  b.textContent = has ? 'Token ✓' : 'Token';
  b.setAttribute('aria-label', has ? 'Admin token set for this tab; change or forget it' : 'Enter the admin token');
}

/**
 * A write through the API, asking for the token when it is needed or refused. Resolves with
 * the answer's JSON, or null when it failed (said in a toast) or the reader gave no token.
 * @param {string} path
 * @param {'PATCH' | 'DELETE' | 'POST'} method
 * @param {unknown} [body]
 * @returns {Promise<unknown>}
 */
export async function write(path, method, body) {
  let error = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (access.writes === 'token' && token() === null) {
      const given = await askToken(WRITE_WHY, error);
      if (!given) return null;
    }
    const headers = authHeaders();
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      toast(`furiwake did not answer: ${err instanceof Error ? err.message : String(err)}`, 'error');
      return null;
    }
    const status = res.status;
    /** @type {{ error?: string }} */
    const json = await res.json().catch(() => ({ error: `HTTP ${status}` }));
    if (status === 401) {
      forgetToken();
      error = json.error ?? '';
      continue;
    }
    if (!res.ok) {
      toast(json.error ?? `HTTP ${status}`, 'error');
      return null;
    }
    return json;
  }
  return null;
}
