// API keys (create shows the secret once; delete) and auth-token rotation.

import { api } from './api.js';
import { formatDate, formatFullDate, formatRelative } from './format.js';
import { byId, confirmAction, h, reportError, toast, withBusy } from './ui.js';

/** @typedef {import('./api.js').Schemas['ApiKey']} ApiKey */
/** @typedef {import('./api.js').Schemas['AccountEvent']} AccountEvent */

/** @type {() => void} */
let changed = () => {};

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
  byId('token-create').addEventListener('click', (e) => createSecondary(e.currentTarget));
  byId('token-promote').addEventListener('click', (e) => promoteSecondary(e.currentTarget));
  byId('token-delete').addEventListener('click', (e) => deleteSecondary(e.currentTarget));
}

export function resetCredentials() {
  hideReveal('key-reveal', ['key-reveal-sid', 'key-reveal-secret']);
  hideReveal('token-reveal', ['token-reveal-value']);
  byId('key-rows').replaceChildren();
  byId('keys-empty').hidden = true;
  byId('token-state').textContent = '';
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

export async function loadKeys() {
  try {
    const res = await api('GET', '/keys');
    renderKeys(res.keys ?? []);
  } catch (err) {
    reportError(err, 'Could not load the API keys');
  }
}

/** @param {ApiKey[]} keys */
function renderKeys(keys) {
  const rows = keys.map((k) =>
    h(
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
    ),
  );
  byId('key-rows').replaceChildren(...rows);
  byId('keys-empty').hidden = keys.length > 0;
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
      await loadKeys();
    } catch (err) {
      reportError(err, 'Could not delete the key');
    }
  });
}

// ---- auth-token rotation ----

/**
 * The API says nothing about whether a secondary token exists; the newest auth-token
 * event in the first page of events does.
 * @param {AccountEvent[]} events newest first
 * @param {boolean} complete whether these are all the events
 */
export function showTokenState(events, complete) {
  const last = events.find((e) => typeof e.type === 'string' && e.type.startsWith('auth_token.'));
  const el = byId('token-state');
  if (last?.type === 'auth_token.secondary_created') {
    el.textContent = `A secondary token exists (created ${formatDate(last.created_at)}). Promote it once your clients use it, or delete it.`;
  } else if (last?.type === 'auth_token.promoted') {
    el.textContent = `The primary token was last rotated ${formatDate(last.created_at)}. There is no secondary token.`;
  } else if (last || complete) {
    el.textContent = 'There is no secondary token.';
  } else {
    el.textContent = '';
  }
}

/** @param {EventTarget | null} button */
async function createSecondary(button) {
  await withBusy(button, async () => {
    try {
      const res = await api('POST', '/auth-tokens/secondary');
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
      hideReveal('token-reveal', ['token-reveal-value']);
      toast('The secondary token is now the primary. The old primary no longer works.');
      changed();
    } catch (err) {
      reportError(err, 'Could not promote the secondary token');
    }
  });
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
      hideReveal('token-reveal', ['token-reveal-value']);
      toast('Secondary token deleted.');
      changed();
    } catch (err) {
      reportError(err, 'Could not delete the secondary token');
    }
  });
}
