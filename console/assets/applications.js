// Applications: register a public key (PEM) with a name, list, delete.

import { api } from './api.js';
import { formatFullDate, formatRelative } from './format.js';
import { byId, confirmAction, h, reportError, toast, withBusy } from './ui.js';

/** @typedef {import('./api.js').Schemas['Application']} Application */

/** @type {() => void} */
let changed = () => {};

/** @param {{onChange: () => void}} hooks */
export function mountApplications(hooks) {
  changed = hooks.onChange;
  const form = byId('application-form', HTMLFormElement);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    registerApplication(form, form.querySelector('button[type=submit]'));
  });
}

export function resetApplications() {
  byId('application-rows').replaceChildren();
  byId('applications-empty').hidden = true;
  byId('application-form', HTMLFormElement).reset();
}

export async function loadApplications() {
  try {
    const res = await api('GET', '/applications');
    renderApplications(res.applications ?? []);
  } catch (err) {
    reportError(err, 'Could not load the applications');
  }
}

/** @param {Application[]} apps */
function renderApplications(apps) {
  const rows = apps.map((a) =>
    h(
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
    ),
  );
  byId('application-rows').replaceChildren(...rows);
  byId('applications-empty').hidden = apps.length > 0;
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
      await loadApplications();
    } catch (err) {
      reportError(err, 'Could not delete the application');
    }
  });
}
