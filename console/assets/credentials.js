// API keys (create shows the secret once; delete) and auth-token rotation.

import { api } from './api.js';
import { formatDate, formatFullDate, formatRelative } from './format.js';
import { pagedList } from './paged-list.js';
import { byId, confirmAction, h, reportError, toast, withBusy } from './ui.js';

/** @typedef {import('./api.js').Schemas['ApiKey']} ApiKey */
/** @typedef {import('./api.js').Schemas['AccountEvent']} AccountEvent */

// Keys per page (the API's default; the account may hold up to API_KEYS_PER_ACCOUNT).
const KEYS_PAGE_SIZE = 50;
// Looking back through events for the last rotation: pages of this many, at most this many pages.
const TOKEN_LOOKBACK_PAGE_SIZE = 1000;
const TOKEN_LOOKBACK_PAGES = 5;

/** @type {() => void} */
let changed = () => {};

const keys = pagedList({
  fetchPage: async (pageToken) => {
    const res = await api('GET', '/keys', { query: { page_size: KEYS_PAGE_SIZE, page_token: pageToken } });
    return { items: res.keys, next: res.next_page_token ?? null };
  },
  rows: 'key-rows',
  render: renderKey,
  prefix: 'keys',
  noun: 'keys',
  what: 'API keys',
  pageSize: KEYS_PAGE_SIZE,
});

/**
 * Whether the account has a secondary token, as far as the page knows: the API does not
 * say, the events do. 'unknown' leaves Promote and Delete enabled (the service decides).
 * @type {'unknown' | 'none' | 'exists'}
 */
let secondary = 'unknown';
let tokenSeq = 0;

/** @param {{onChange: () => void}} hooks */
export function mountCredentials(hooks) {
  changed = hooks.onChange;
  const form = byId('key-form', HTMLFormElement);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    createKey(form.querySelector('button[type=submit]'));
  });
  byId('key-reveal-done').addEventListener('click', () => hideReveal('key-reveal', ['key-reveal-sid', 'key-reveal-secret']));
  byId('token-reveal-done').addEventListener('click', () => hideReveal('token-reveal', ['token-reveal-value']));
  byId('keys-more').addEventListener('click', (e) => withBusy(e.currentTarget, () => keys.more()));
  byId('token-create').addEventListener('click', (e) => createSecondary(e.currentTarget));
  byId('token-promote').addEventListener('click', (e) => promoteSecondary(e.currentTarget));
  byId('token-delete').addEventListener('click', (e) => deleteSecondary(e.currentTarget));
}

export function resetCredentials() {
  hideReveal('key-reveal', ['key-reveal-sid', 'key-reveal-secret']);
  hideReveal('token-reveal', ['token-reveal-value']);
  keys.reset();
  tokenSeq += 1;
  setSecondary('unknown', '');
  byId('key-name', HTMLInputElement).value = '';
}

/**
 * Secrets leave the page once the owner says they are saved.
 * @param {string} panelId
 * @param {string[]} valueIds
 */
function hideReveal(panelId, valueIds) {
  byId(panelId).hidden = true;
  for (const id of valueIds) byId(id).textContent = '';
}

/** Loads the newest page of keys again (after any change the page made). */
export const loadKeys = () => keys.reload();

/** @param {ApiKey} k */
function renderKey(k) {
  return h(
      'tr',
      { dataset: { sid: k.sid } },
      h('td', { 'data-label': 'Name', class: 'cell-strong', text: k.name }),
      h('td', { 'data-label': 'Key SID' }, h('code', { class: 'mono', text: k.sid })),
      h('td', { 'data-label': 'Created' }, h('time', { datetime: k.created_at, title: formatFullDate(k.created_at), text: formatRelative(k.created_at) })),
      h(
        'td',
        { class: 'col-actions' },
        h('button', { type: 'button', class: 'btn btn-danger-ghost btn-small', title: `Delete key ${k.name}`, on: { click: (e) => deleteKey(k, e.currentTarget) } }, 'Delete'),
      ),
    );
}

/** @param {Element | null} button */
async function createKey(button) {
  const input = byId('key-name', HTMLInputElement);
  // A name helps tell keys apart later; without one the date does.
  const name = input.value.trim() || `Console key, ${formatDate(new Date().toISOString())}`;
  await withBusy(button, async () => {
    try {
      const key = await api('POST', '/keys', { json: { name } });
      input.value = '';
      byId('key-reveal-sid').textContent = key.sid;
      byId('key-reveal-secret').textContent = key.secret;
      const panel = byId('key-reveal');
      panel.hidden = false;
      panel.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
      toast(`Key “${key.name}” created. Copy its secret now: it is shown only once.`);
      changed();
      await loadKeys();
    } catch (err) {
      reportError(err, 'Could not create the key');
    }
  });
}

/** @param {ApiKey} key @param {EventTarget | null} button */
async function deleteKey(key, button) {
  const ok = await confirmAction({
    title: 'Delete this API key?',
    body: [
      h('p', {}, h('strong', { text: key.name }), ` (${key.sid}) will stop working at once.`),
      h('p', { class: 'muted', text: 'Servers that still use it get 401 from then on. This cannot be undone.' }),
    ],
    confirmLabel: 'Delete key',
    danger: true,
  });
  if (!ok) return;
  await withBusy(button, async () => {
    try {
      await api('DELETE', '/keys/{KeySid}', { path: { KeySid: key.sid } });
      toast(`Key “${key.name}” deleted.`);
      changed();
      await keys.removeRow(`tr[data-sid="${CSS.escape(key.sid)}"]`);
    } catch (err) {
      reportError(err, 'Could not delete the key');
    }
  });
}

// ---- auth-token rotation ----

/** @param {AccountEvent} e */
const isTokenEvent = (e) => typeof e.type === 'string' && e.type.startsWith('auth_token.');

/**
 * The API says nothing about whether a secondary token exists; the newest auth-token
 * event does. In the first page of events, or, when that page has none and there are
 * more, in the pages before it (up to TOKEN_LOOKBACK_PAGES of them).
 * @param {AccountEvent[]} events newest first
 * @param {string | null} nextToken the page token for the events before these
 */
export async function showTokenState(events, nextToken) {
  const seq = ++tokenSeq;
  let last = events.find(isTokenEvent);
  let token = nextToken;
  try {
    for (let page = 0; !last && token && page < TOKEN_LOOKBACK_PAGES; page += 1) {
      const res = await api('GET', '/events', { query: { page_size: TOKEN_LOOKBACK_PAGE_SIZE, page_token: token } });
      if (seq !== tokenSeq) return;
      last = res.events.find(isTokenEvent);
      token = res.next_page_token ?? null;
    }
  } catch {
    // Not known, then: the buttons stay usable and the service decides.
    if (seq === tokenSeq) setSecondary('unknown', '');
    return;
  }
  if (seq !== tokenSeq) return;
  if (last?.type === 'auth_token.secondary_created') {
    setSecondary('exists', `A secondary token exists (created ${formatDate(last.created_at)}). Promote it once your clients use it, or delete it.`);
  } else if (last || !token) {
    const rotated = last?.type === 'auth_token.promoted' ? `The primary token was last rotated ${formatDate(last.created_at)}. ` : '';
    setSecondary('none', `${rotated}There is no secondary token: create one to promote or delete it.`);
  } else {
    setSecondary('unknown', 'Whether a secondary token exists is not known: no rotation among the latest events.');
  }
}

/**
 * @param {'unknown' | 'none' | 'exists'} state
 * @param {string} text what #token-state says (the disabled buttons point to it)
 */
function setSecondary(state, text) {
  secondary = state;
  byId('token-state').textContent = text;
  syncTokenButtons();
}

/** Promote and Delete only when there may be something to promote or delete. */
function syncTokenButtons() {
  for (const id of ['token-promote', 'token-delete']) {
    const button = byId(id, HTMLButtonElement);
    if (button.getAttribute('aria-busy') !== 'true') button.disabled = secondary === 'none';
  }
}

/** @param {EventTarget | null} button */
async function createSecondary(button) {
  await withBusy(button, async () => {
    try {
      const res = await api('POST', '/auth-tokens/secondary');
      tokenSeq += 1;
      setSecondary('exists', 'A secondary token exists (created just now). Promote it once your clients use it, or delete it.');
      byId('token-reveal-value').textContent = res.secondary_auth_token;
      const panel = byId('token-reveal');
      panel.hidden = false;
      panel.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
      toast('Secondary token created. Copy it now: it is shown only once.');
      changed();
    } catch (err) {
      reportError(err, 'Could not create a secondary token');
    }
  });
}

/** @param {EventTarget | null} button */
async function promoteSecondary(button) {
  const ok = await confirmAction({
    title: 'Promote the secondary token?',
    body: [
      h('p', { text: 'The secondary token becomes the primary auth token.' }),
      h('p', { class: 'muted', text: 'The current primary token stops working at once, everywhere: clients still using it get 401. Sign in to this console with the new token from now on.' }),
    ],
    confirmLabel: 'Promote',
    danger: true,
  });
  if (!ok) return;
  await withBusy(button, async () => {
    try {
      await api('POST', '/auth-tokens/promote');
      tokenSeq += 1;
      setSecondary('none', 'The primary token was rotated just now. There is no secondary token: create one to promote or delete it.');
      hideReveal('token-reveal', ['token-reveal-value']);
      toast('The secondary token is now the primary. The old primary no longer works.');
      changed();
    } catch (err) {
      reportError(err, 'Could not promote the secondary token');
    }
  });
  // withBusy enabled it again; whether it should be is the token's state.
  syncTokenButtons();
}

/** @param {EventTarget | null} button */
async function deleteSecondary(button) {
  const ok = await confirmAction({
    title: 'Delete the secondary token?',
    body: [h('p', { text: 'Clients that use the secondary token get 401 from then on. The primary token keeps working.' })],
    confirmLabel: 'Delete secondary token',
    danger: true,
  });
  if (!ok) return;
  await withBusy(button, async () => {
    try {
      await api('DELETE', '/auth-tokens/secondary');
      tokenSeq += 1;
      setSecondary('none', 'There is no secondary token: create one to promote or delete it.');
      hideReveal('token-reveal', ['token-reveal-value']);
      toast('Secondary token deleted.');
      changed();
    } catch (err) {
      reportError(err, 'Could not delete the secondary token');
    }
  });
  // withBusy enabled it again; whether it should be is the token's state.
  syncTokenButtons();
}
