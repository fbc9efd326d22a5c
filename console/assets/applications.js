// Applications: register a public key (PEM) with a name, list, delete.

import { api } from './api.js';
import { formatFullDate, formatRelative } from './format.js';
import { pagedList } from './paged-list.js';
import { byId, confirmAction, h, reportError, toast, withBusy } from './ui.js';

/** @typedef {import('./api.js').Schemas['Application']} Application */

// Applications per page (the API's default; the account may hold APPLICATIONS_PER_ACCOUNT).
const PAGE_SIZE = 50;

/** @type {() => void} */
let changed = () => {};

const list = pagedList({
  fetchPage: async (pageToken) => {
    const res = await api('GET', '/applications', { query: { page_size: PAGE_SIZE, page_token: pageToken } });
    return { items: res.applications, next: res.next_page_token ?? null };
  },
  rows: 'application-rows',
  render: renderApplication,
  prefix: 'applications',
  noun: 'applications',
  what: 'applications',
  pageSize: PAGE_SIZE,
});

/** @param {{onChange: () => void}} hooks */
export function mountApplications(hooks) {
  changed = hooks.onChange;
  const form = byId('application-form', HTMLFormElement);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    registerApplication(form, form.querySelector('button[type=submit]'));
  });
  byId('applications-more').addEventListener('click', (e) => withBusy(e.currentTarget, () => list.more()));
}

export function resetApplications() {
  list.reset();
  byId('application-form', HTMLFormElement).reset();
}

/** Loads the newest page again (after any change the page made). */
export const loadApplications = () => list.reload();

/** @param {Application} a */
function renderApplication(a) {
  return h(
      'tr',
      { dataset: { id: a.application_id } },
      h('td', { 'data-label': 'Name', class: 'cell-strong', text: a.name }),
      h('td', { 'data-label': 'Application ID' }, h('code', { class: 'mono', text: a.application_id })),
      h('td', { 'data-label': 'Algorithm', text: a.algorithm ?? '—' }),
      h('td', { 'data-label': 'Created' }, h('time', { datetime: a.created_at, title: formatFullDate(a.created_at), text: formatRelative(a.created_at) })),
      h(
        'td',
        { class: 'col-actions' },
        h('button', { type: 'button', class: 'btn btn-danger-ghost btn-small', title: `Delete application ${a.name}`, on: { click: (e) => deleteApplication(a, e.currentTarget) } }, 'Delete'),
      ),
    );
}

/** @param {HTMLFormElement} form @param {Element | null} button */
async function registerApplication(form, button) {
  const nameInput = byId('application-name', HTMLInputElement);
  const keyInput = byId('application-key', HTMLTextAreaElement);
  const name = nameInput.value.trim();
  const publicKey = keyInput.value.trim();
  if (name === '') {
    toast('Give the application a name.', 'error');
    nameInput.focus();
    return;
  }
  if (!/-----BEGIN [A-Z ]*PUBLIC KEY-----/.test(publicKey)) {
    toast('Paste the public key in PEM form, from “-----BEGIN PUBLIC KEY-----” to its END line.', 'error');
    keyInput.focus();
    return;
  }
  await withBusy(button, async () => {
    try {
      const app = await api('POST', '/applications', { json: { name, public_key: `${publicKey}\n` } });
      form.reset();
      toast(`Application “${app.name}” registered (${app.algorithm ?? 'key accepted'}). Its ID is ${app.application_id}.`);
      changed();
      await loadApplications();
    } catch (err) {
      reportError(err, 'Could not register the application');
    }
  });
}

/** @param {Application} app @param {EventTarget | null} button */
async function deleteApplication(app, button) {
  const ok = await confirmAction({
    title: 'Delete this application?',
    body: [
      h('p', {}, h('strong', { text: app.name }), ` (${app.application_id}) will be deleted.`),
      h('p', { class: 'muted', text: 'JWTs it signs stop working at once. Media bound to it stays reachable with the account’s auth token and API keys.' }),
    ],
    confirmLabel: 'Delete application',
    danger: true,
  });
  if (!ok) return;
  await withBusy(button, async () => {
    try {
      await api('DELETE', '/applications/{ApplicationId}', { path: { ApplicationId: app.application_id } });
      toast(`Application “${app.name}” deleted.`);
      changed();
      await list.removeRow(`tr[data-id="${CSS.escape(app.application_id)}"]`);
    } catch (err) {
      reportError(err, 'Could not delete the application');
    }
  });
}
