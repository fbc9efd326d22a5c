// Media protection switches, protect-existing, and retention. The kinds are the API's:
// one row for each kind its protection settings name.

import { api, currentSession } from './api.js';
import { formatCount, formatDate, kindName } from './format.js';
import { byId, h, openConfirm, reportError, toast, withBusy } from './ui.js';

/** @typedef {import('./api.js').Kind} Kind */
/** @typedef {import('./api.js').Schemas['MediaProtection']} MediaProtection */
/** @typedef {MediaProtection[Kind]} KindProtection */

// Counting pages through the list; past this many pages the dialog says "more than".
const COUNT_PAGE_SIZE = 1000;
const COUNT_MAX_PAGES = 100;

/** @type {() => void} */
let changed = () => {};
/** @type {(kinds: Kind[]) => void} */
let kindsKnown = () => {};

/**
 * @param {{onChange: () => void, onKinds: (kinds: Kind[]) => void}} hooks onChange: something
 *   changed that the events list shows; onKinds: the API's kinds, in its order, once loaded
 */
export function mountProtection(hooks) {
  changed = hooks.onChange;
  kindsKnown = hooks.onKinds;
  const form = byId('retention-form', HTMLFormElement);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    saveRetention();
  });
}

export async function loadProtection() {
  try {
    const [state, retention] = await Promise.all([api('GET', '/settings/media-protection'), api('GET', '/settings/retention')]);
    showProtection(state);
    showRetention(retention.days);
  } catch (err) {
    const rows = kindRows();
    for (const row of rows) row.state.textContent = 'Could not load the setting.';
    if (rows.length === 0) byId('kind-loading').textContent = 'Could not load the setting.';
    byId('retention-state').textContent = 'Could not load retention.';
    reportError(err, 'Could not load the protection settings');
  }
}

export function resetProtection() {
  // The rows stay (the kinds are the service's, not the account's); their state goes.
  for (const { row, input, state } of kindRows()) {
    input.checked = false;
    input.disabled = true;
    state.textContent = 'Loading…';
    row.classList.remove('is-on');
  }
  byId('kind-loading').textContent = 'Loading…';
  byId('retention-state').textContent = 'Loading…';
  byId('retention-days', HTMLInputElement).value = '';
}

/**
 * The kinds an answer names, in its order.
 * @param {MediaProtection} state
 * @returns {Kind[]}
 */
function kindsOf(state) {
  // Object.keys says string[]; an answer's keys are the document's kinds.
  return /** @type {Kind[]} */ (Object.keys(state));
}

/** @param {MediaProtection} state */
function showProtection(state) {
  const kinds = kindsOf(state);
  for (const kind of kinds) {
    const s = state[kind];
    const { row, input, state: text } = kindRow(kind);
    input.checked = s.enabled;
    input.disabled = false;
    text.textContent = describeState(kind, s);
    row.classList.toggle('is-on', s.enabled);
  }
  byId('kind-loading').hidden = kinds.length > 0;
  kindsKnown(kinds);
}

/**
 * @typedef {object} KindRow
 * @property {HTMLElement} row
 * @property {HTMLInputElement} input the switch
 * @property {HTMLElement} state what the switch means now
 */

/** @returns {KindRow[]} the rows on the page */
function kindRows() {
  /** @type {KindRow[]} */
  const rows = [];
  for (const row of byId('kind-list').children) {
    const kind = row instanceof HTMLElement ? row.dataset.kind : undefined;
    if (row instanceof HTMLElement && kind !== undefined) rows.push({ row, input: byId(`protect-${kind}`, HTMLInputElement), state: byId(`kind-state-${kind}`) });
  }
  return rows;
}

/**
 * The kind's row, made the first time the API names the kind.
 * @param {Kind} kind
 * @returns {KindRow}
 */
function kindRow(kind) {
  const found = kindRows().find(({ row }) => row.dataset.kind === kind);
  if (found) return found;
  const name = kindName(kind);
  const input = h('input', {
    type: 'checkbox',
    role: 'switch',
    class: 'switch',
    id: `protect-${kind}`,
    dataset: { kind },
    'aria-describedby': `kind-state-${kind}`,
    disabled: true,
  });
  input.addEventListener('change', () => toggleProtection(kind, input));
  const state = h('p', { class: 'kind-state muted', id: `kind-state-${kind}`, 'aria-live': 'polite', text: 'Loading…' });
  const protect = h('button', { type: 'button', class: 'btn btn-secondary btn-small', dataset: { protectExisting: kind } }, 'Protect existing media');
  protect.addEventListener('click', () => protectExisting(kind, protect));
  const row = h(
    'div',
    { class: 'kind-row', dataset: { kind }, role: 'group', 'aria-labelledby': `kind-title-${kind}` },
    h('div', { class: 'kind-info' }, h('h3', { class: 'kind-title', id: `kind-title-${kind}`, text: `${name} media` }), state),
    h(
      'div',
      { class: 'kind-controls' },
      h('div', { class: 'switch-field' }, h('label', { for: `protect-${kind}`, text: `Protect ${name.toLowerCase()} media` }), input),
      protect,
    ),
  );
  byId('kind-list').append(row);
  return { row, input, state };
}

/**
 * @param {string} kind
 * @param {KindProtection} s
 */
function describeState(kind, s) {
  const name = kindName(kind).toLowerCase();
  const since = s.changed_at ? ` since ${formatDate(s.changed_at)}` : '';
  return s.enabled
    ? `Protected${since}: new ${name} media needs credentials.`
    : `Not protected${since}: new ${name} media is public at its URL.`;
}

/** @param {Kind} kind @param {HTMLInputElement} input */
async function toggleProtection(kind, input) {
  const wanted = input.checked;
  input.disabled = true;
  try {
    const state = await api('PATCH', '/settings/media-protection', { json: { [kind]: wanted } });
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
 * @param {Kind} kind
 * @param {(counted: number) => void} progress
 * @param {() => boolean} cancelled
 */
async function countUnprotected(kind, progress, cancelled) {
  let count = 0;
  /** @type {string | undefined} */
  let token;
  for (let page = 0; page < COUNT_MAX_PAGES; page += 1) {
    const res = await api('GET', '/media', { query: { kind, page_size: COUNT_PAGE_SIZE, page_token: token } });
    count += res.media.filter((m) => !m.requires_auth).length;
    token = res.next_page_token ?? undefined;
    if (!token) return { count, complete: true };
    if (cancelled()) return { count, complete: false };
    progress(count);
  }
  return { count, complete: false };
}

/** @param {Kind} kind @param {HTMLButtonElement} button */
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
      const res = await api('POST', '/settings/media-protection/protect-existing', { json: { kind } });
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
  const input = byId('retention-days', HTMLInputElement);
  if (days === null || days === undefined) {
    input.value = '';
    byId('retention-state').textContent = 'Media is kept until it is deleted.';
  } else {
    input.value = String(days);
    byId('retention-state').textContent = `Media is deleted ${days} day${days === 1 ? '' : 's'} after it was created.`;
  }
}

async function saveRetention() {
  const input = byId('retention-days', HTMLInputElement);
  const text = input.value.trim();
  // Empty means "keep until deleted", the API's null.
  const days = text === '' ? null : Number(text);
  if (days !== null && (!Number.isInteger(days) || days < 1 || days > 36_500)) {
    toast('Retention must be a whole number of days from 1 to 36500, or empty to keep media until it is deleted.', 'error');
    input.focus();
    return;
  }
  const button = byId('retention-save', HTMLButtonElement);
  await withBusy(button, async () => {
    try {
      const res = await api('PATCH', '/settings/retention', { json: { days } });
      showRetention(res.days);
      toast(res.days === null ? 'Retention saved: media is kept until it is deleted.' : `Retention saved: media is deleted after ${res.days} days.`);
      changed();
    } catch (err) {
      reportError(err, 'Could not save retention');
    }
  });
}
