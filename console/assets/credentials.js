// API keys (create shows the secret once; delete) and auth-token rotation.

import { accountPath, api } from './api.js';
import { formatDate, formatFullDate, formatRelative } from './format.js';
import { byId, confirmAction, h, reportError, toast, withBusy } from './ui.js';

/** @type {() => void} */
let changed = () => {};

/** @param {{onChange: () => void}} hooks */
export function mountCredentials(hooks) {
  changed = hooks.onChange;
  const form = /** @type {HTMLFormElement} */ (byId('key-form'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    createKey(/** @type {HTMLButtonElement | null} */ (form.querySelector('button[type=submit]')));
  });
  byId('key-reveal-done').addEventListener('click', () => hideReveal('key-reveal', ['key-reveal-sid', 'key-reveal-secret']));
  byId('token-reveal-done').addEventListener('click', () => hideReveal('token-reveal', ['token-reveal-value']));
  byId('token-create').addEventListener('click', (e) => createSecondary(/** @type {HTMLButtonElement} */ (e.currentTarget)));
  byId('token-promote').addEventListener('click', (e) => promoteSecondary(/** @type {HTMLButtonElement} */ (e.currentTarget)));
  byId('token-delete').addEventListener('click', (e) => deleteSecondary(/** @type {HTMLButtonElement} */ (e.currentTarget)));
}

export function resetCredentials() {
  hideReveal('key-reveal', ['key-reveal-sid', 'key-reveal-secret']);
  hideReveal('token-reveal', ['token-reveal-value']);
  byId('key-rows').replaceChildren();
  byId('keys-empty').hidden = true;
  byId('token-state').textContent = '';
  /** @type {HTMLInputElement} */ (byId('key-name')).value = '';
}

/** Secrets leave the page once the owner says they are saved. */
function hideReveal(panelId, valueIds) {
  byId(panelId).hidden = true;
  for (const id of valueIds) byId(id).textContent = '';
}

export async function loadKeys() {
  try {
    const res = await api('GET', accountPath('/keys'));
    renderKeys(res.keys ?? []);
  } catch (err) {
    reportError(err, 'Could not load the API keys');
  }
}

/** @param {any[]} keys */
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

/** @param {HTMLButtonElement | null} button */
async function createKey(button) {
  const input = /** @type {HTMLInputElement} */ (byId('key-name'));
  // A name helps tell keys apart later; without one the date does.
  const name = input.value.trim() || `Console key, ${formatDate(new Date().toISOString())}`;
  await withBusy(button, async () => {
    try {
      const key = await api('POST', accountPath('/keys'), { json: { name } });
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

/** @param {any} key @param {EventTarget | null} button */
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
  await withBusy(/** @type {HTMLButtonElement} */ (button), async () => {
    try {
      await api('DELETE', accountPath(`/keys/${encodeURIComponent(key.sid)}`));
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
 * @param {any[]} events newest first
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

/** @param {HTMLButtonElement} button */
async function createSecondary(button) {
  await withBusy(button, async () => {
    try {
      const res = await api('POST', accountPath('/auth-tokens/secondary'));
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

/** @param {HTMLButtonElement} button */
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
      await api('POST', accountPath('/auth-tokens/promote'));
      hideReveal('token-reveal', ['token-reveal-value']);
      toast('The secondary token is now the primary. The old primary no longer works.');
      changed();
    } catch (err) {
      reportError(err, 'Could not promote the secondary token');
    }
  });
}

/** @param {HTMLButtonElement} button */
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
      await api('DELETE', accountPath('/auth-tokens/secondary'));
      hideReveal('token-reveal', ['token-reveal-value']);
      toast('Secondary token deleted.');
      changed();
    } catch (err) {
      reportError(err, 'Could not delete the secondary token');
    }
  });
}
