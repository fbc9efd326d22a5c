// Media protection switches, protect-existing, and retention.

import { accountPath, api, currentSession } from './api.js';
import { formatCount, formatDate, kindName } from './format.js';
import { byId, h, openConfirm, reportError, toast, withBusy } from './ui.js';

const KINDS = ['message', 'recording', 'fax'];
// Counting pages through the list; past this many pages the dialog says "more than".
const COUNT_PAGE_SIZE = 1000;
const COUNT_MAX_PAGES = 100;

/** @type {() => void} */
let changed = () => {};

/** @param {{onChange: () => void}} hooks onChange: something changed that the events list shows */
export function mountProtection(hooks) {
  changed = hooks.onChange;
  for (const kind of KINDS) {
    const input = /** @type {HTMLInputElement} */ (byId(`protect-${kind}`));
    input.addEventListener('change', () => toggleProtection(kind, input));
  }
  for (const button of document.querySelectorAll('[data-protect-existing]')) {
    const kind = /** @type {HTMLElement} */ (button).dataset.protectExisting ?? '';
    button.addEventListener('click', () => protectExisting(kind, /** @type {HTMLButtonElement} */ (button)));
  }
  const form = /** @type {HTMLFormElement} */ (byId('retention-form'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    saveRetention();
  });
}

export async function loadProtection() {
  try {
    const [state, retention] = await Promise.all([
      api('GET', accountPath('/settings/media-protection')),
      api('GET', accountPath('/settings/retention')),
    ]);
    showProtection(state);
    showRetention(retention.days);
  } catch (err) {
    for (const kind of KINDS) byId(`kind-state-${kind}`).textContent = 'Could not load the setting.';
    byId('retention-state').textContent = 'Could not load retention.';
    reportError(err, 'Could not load the protection settings');
  }
}

export function resetProtection() {
  for (const kind of KINDS) {
    const input = /** @type {HTMLInputElement} */ (byId(`protect-${kind}`));
    input.checked = false;
    input.disabled = true;
    byId(`kind-state-${kind}`).textContent = 'Loading…';
  }
  byId('retention-state').textContent = 'Loading…';
  /** @type {HTMLInputElement} */ (byId('retention-days')).value = '';
}

/** @param {Record<string, {enabled: boolean, changed_at: string | null}>} state */
function showProtection(state) {
  for (const kind of KINDS) {
    const s = state[kind] ?? { enabled: false, changed_at: null };
    const input = /** @type {HTMLInputElement} */ (byId(`protect-${kind}`));
    input.checked = s.enabled;
    input.disabled = false;
    byId(`kind-state-${kind}`).textContent = describeState(kind, s);
    const row = input.closest('.kind-row');
    row?.classList.toggle('is-on', s.enabled);
  }
}

function describeState(kind, s) {
  const name = kindName(kind).toLowerCase();
  const since = s.changed_at ? ` since ${formatDate(s.changed_at)}` : '';
  return s.enabled
    ? `Protected${since}: new ${name} media needs credentials.`
    : `Not protected${since}: new ${name} media is public at its URL.`;
}

/** @param {string} kind @param {HTMLInputElement} input */
async function toggleProtection(kind, input) {
  const wanted = input.checked;
  input.disabled = true;
  try {
    const state = await api('PATCH', accountPath('/settings/media-protection'), { json: { [kind]: wanted } });
    showProtection(state);
    toast(`${kindName(kind)} media protection is ${wanted ? 'on' : 'off'}.`);
    changed();
  } catch (err) {
    input.checked = !wanted;
    reportError(err, `Could not change ${kindName(kind).toLowerCase()} media protection`);
  } finally {
    // Signed out meanwhile: the switch stays disabled until the next sign-in loads it.
    if (currentSession()) input.disabled = false;
  }
}

/**
 * Counts the kind's media that are not yet protected, by paging the media list (the API
 * has no count). Stops after COUNT_MAX_PAGES pages.
 * @param {string} kind
 * @param {(counted: number) => void} progress
 * @param {() => boolean} cancelled
 */
async function countUnprotected(kind, progress, cancelled) {
  let count = 0;
  let token;
  for (let page = 0; page < COUNT_MAX_PAGES; page += 1) {
    const res = await api('GET', accountPath('/media'), { query: { kind, page_size: COUNT_PAGE_SIZE, page_token: token } });
    count += res.media.filter((m) => !m.requires_auth).length;
    token = res.next_page_token;
    if (!token) return { count, complete: true };
    if (cancelled()) return { count, complete: false };
    progress(count);
  }
  return { count, complete: false };
}

/** @param {string} kind @param {HTMLButtonElement} button */
async function protectExisting(kind, button) {
  const name = kindName(kind).toLowerCase();
  const dialog = openConfirm({
    title: `Protect existing ${name} media?`,
    body: `Counting the ${name} media that are not protected yet…`,
    confirmLabel: 'Protect media',
    confirmDisabled: true,
  });
  let counted;
  try {
    counted = await countUnprotected(
      kind,
      (n) => dialog.setBody(`Counting… ${formatCount(n)} ${name} media not protected so far.`),
      () => !dialog.isOpen(),
    );
  } catch (err) {
    dialog.close();
    reportError(err, `Could not count the ${name} media`);
    return;
  }
  if (!dialog.isOpen()) return;
  if (counted.complete && counted.count === 0) {
    // Still confirmable: media uploaded since the count would be protected too.
    dialog.setBody([h('p', { text: `All ${name} media are already protected: there are 0 to change.` })]);
    dialog.setConfirm('Protect existing media', true);
  } else {
    const n = counted.complete ? formatCount(counted.count) : `more than ${formatCount(counted.count)}`;
    dialog.setBody([
      h('p', {}, 'This will change ', h('strong', { class: 'confirm-count', text: `${n} ${name} media` }), ' that are not protected yet: from now on their URLs need credentials.'),
      h('p', { class: 'muted', text: 'Links already handed out without credentials (in webhooks, messages, emails) will stop working for them. This cannot be undone.' }),
    ]);
    dialog.setConfirm(counted.complete ? `Protect ${n} media` : 'Protect all of them', true);
  }
  if (!(await dialog.result)) return;
  await withBusy(button, async () => {
    try {
      const res = await api('POST', accountPath('/settings/media-protection/protect-existing'), { json: { kind } });
      const n = Number(res?.protected ?? 0);
      toast(n === 0 ? `No ${name} media needed protecting.` : `Protected ${formatCount(n)} ${name} media.`);
      changed();
    } catch (err) {
      reportError(err, `Could not protect the existing ${name} media`);
    }
  });
}

/** @param {number | null} days */
function showRetention(days) {
  const input = /** @type {HTMLInputElement} */ (byId('retention-days'));
  if (days === null || days === undefined) {
    input.value = '';
    byId('retention-state').textContent = 'Media is kept until it is deleted.';
  } else {
    input.value = String(days);
    byId('retention-state').textContent = `Media is deleted ${days} day${days === 1 ? '' : 's'} after it was created.`;
  }
}

async function saveRetention() {
  const input = /** @type {HTMLInputElement} */ (byId('retention-days'));
  const text = input.value.trim();
  // Empty means "keep until deleted", the API's null.
  const days = text === '' ? null : Number(text);
  if (days !== null && (!Number.isInteger(days) || days < 1 || days > 36_500)) {
    toast('Retention must be a whole number of days from 1 to 36500, or empty to keep media until it is deleted.', 'error');
    input.focus();
    return;
  }
  const button = /** @type {HTMLButtonElement} */ (byId('retention-save'));
  await withBusy(button, async () => {
    try {
      const res = await api('PATCH', accountPath('/settings/retention'), { json: { days } });
      showRetention(res.days);
      toast(res.days === null ? 'Retention saved: media is kept until it is deleted.' : `Retention saved: media is deleted after ${res.days} days.`);
      changed();
    } catch (err) {
      reportError(err, 'Could not save retention');
    }
  });
}
