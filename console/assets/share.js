// Share links (#20): `Share` on a media row opens a dialog that creates a link for people
// without credentials (the URL shown once, with Copy); under each media row that has
// any, its live links with their uses and `Revoke`.

import { ApiError, SessionEnded, api } from './api.js';
import { formatDate, formatFullDate, formatRelative } from './format.js';
import { byId, confirmAction, copyToClipboard, h, reportError, toast, withBusy } from './ui.js';

/** @typedef {import('./api.js').Schemas['Media']} Media */
/** @typedef {import('./api.js').Schemas['ShareLink']} ShareLink */

// One media's live links per request; past this many the list offers the rest.
const LINKS_PAGE_SIZE = 50;
// The media list shows up to 20 rows: their link lists are asked for this many at a time.
const LINKS_CONCURRENCY = 4;

/** @type {Media | null} the media the dialog is sharing */
let sharing = null;
/** Bumped when the media list is drawn again: answers for older rows are dropped. */
let listSeq = 0;
/** The media whose list of links the owner has open: it stays open when the list is drawn again. */
const openLists = new Set();

export function mountShare() {
  const dialog = byId('share-dialog', HTMLDialogElement);
  const form = byId('share-form', HTMLFormElement);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    createLink(byId('share-submit', HTMLButtonElement));
  });
  byId('share-cancel').addEventListener('click', () => dialog.close());
  byId('share-done').addEventListener('click', () => dialog.close());
  byId('share-copy').addEventListener('click', () => copyToClipboard(byId('share-url').textContent ?? '', 'Share link'));
  // However it closes (Done, Escape), the URL leaves the page with it.
  dialog.addEventListener('close', () => {
    sharing = null;
    byId('share-url').textContent = '';
    byId('share-result-meta').textContent = '';
  });
}

export function resetShare() {
  listSeq += 1;
  openLists.clear();
  const dialog = byId('share-dialog', HTMLDialogElement);
  if (dialog.open) dialog.close();
}

/** @param {Media} m */
export function openShare(m) {
  sharing = m;
  const dialog = byId('share-dialog', HTMLDialogElement);
  byId('share-title').textContent = `Share ${m.filename || 'media'}`;
  byId('share-subject').textContent = `${m.sid} · anyone with the link can open it, without credentials, until it expires or you revoke it.`;
  byId('share-form', HTMLFormElement).reset();
  byId('share-create').hidden = false;
  byId('share-result').hidden = true;
  showError('');
  dialog.showModal();
  // The choice most people change first.
  const checked = dialog.querySelector('input[name="share-expiry"]:checked');
  if (checked instanceof HTMLInputElement) checked.focus();
}

/** @param {string} message */
function showError(message) {
  const box = byId('share-error');
  box.textContent = message;
  box.hidden = message === '';
}

/** @param {HTMLButtonElement} button */
async function createLink(button) {
  const m = sharing;
  // Enter in the form once the link is shown would make another one.
  if (!m || !byId('share-result').hidden) return;
  const form = byId('share-form', HTMLFormElement);
  const expiry = form.querySelector('input[name="share-expiry"]:checked');
  const expiresIn = Number(expiry instanceof HTMLInputElement ? expiry.value : 604800);
  const once = byId('share-once', HTMLInputElement).checked;
  const label = byId('share-label', HTMLInputElement).value.trim();
  showError('');
  await withBusy(button, async () => {
    try {
      const link = await api('POST', '/media/{MediaSid}/share-links', {
        path: { MediaSid: m.sid },
        json: { expires_in: expiresIn, max_uses: once ? 1 : undefined, label: label || undefined },
      });
      // The dialog may have been closed meanwhile: the URL then is not shown at all.
      if (sharing !== m) return;
      byId('share-create').hidden = true;
      byId('share-result').hidden = false;
      byId('share-url').textContent = link.url;
      byId('share-result-meta').textContent = `${link.max_uses === 1 ? 'One-time link' : 'Unlimited uses'} · expires ${formatDate(link.expires_at)}${link.label ? ` · ${link.label}` : ''}`;
      byId('share-copy').focus();
      await refreshLinks(m.sid, { open: true });
    } catch (err) {
      if (err instanceof SessionEnded) return;
      // 409: the account holds SHARE_LINKS_PER_ACCOUNT live links; the service says so.
      showError(`Could not create the link: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}

/**
 * Fetches the live links of each media shown and lists them below its row. Called each
 * time the media list is drawn.
 * @param {Media[]} media
 */
export async function showShareLinks(media) {
  const seq = ++listSeq;
  const queue = media.map((m) => m.sid);
  let failed = /** @type {unknown} */ (null);
  const worker = async () => {
    for (let sid = queue.shift(); sid !== undefined; sid = queue.shift()) {
      if (seq !== listSeq) return;
      try {
        await refreshLinks(sid, { seq });
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: LINKS_CONCURRENCY }, worker));
  // One message for the whole list, not one per row.
  if (failed && seq === listSeq) reportError(failed, 'Could not load the share links');
}

/**
 * Reads one media's live links again and redraws them below its row.
 * @param {string} sid
 * @param {{seq?: number, open?: boolean}} [options] seq: the list drawing this belongs to
 */
async function refreshLinks(sid, options = {}) {
  const res = await api('GET', '/media/{MediaSid}/share-links', { path: { MediaSid: sid }, query: { page_size: LINKS_PAGE_SIZE } });
  if (options.seq !== undefined && options.seq !== listSeq) return;
  renderLinks(sid, res.share_links, res.next_page_token, options.open ?? false);
}

/** @param {string} sid @returns {HTMLTableRowElement | null} the media's row in the list */
function mediaRow(sid) {
  const row = byId('media-rows').querySelector(`tr[data-sid="${CSS.escape(sid)}"]`);
  return row instanceof HTMLTableRowElement ? row : null;
}

/**
 * @param {string} sid
 * @param {ShareLink[]} links
 * @param {string | null} nextToken
 * @param {boolean} open
 */
function renderLinks(sid, links, nextToken, open) {
  const row = mediaRow(sid);
  if (!row) return;
  const existing = row.nextElementSibling instanceof HTMLTableRowElement && row.nextElementSibling.dataset.linksFor === sid ? row.nextElementSibling : null;
  if (links.length === 0) {
    existing?.remove();
    row.classList.remove('has-links');
    return;
  }
  if (open) openLists.add(sid);
  const list = h('ul', { class: 'share-list' }, ...links.map((l) => renderLink(sid, l)));
  const count = `${links.length}${nextToken ? '+' : ''}`;
  const more = nextToken
    ? h('button', { type: 'button', class: 'btn btn-ghost btn-small', on: { click: (e) => loadMore(sid, list, nextToken, e.currentTarget) } }, 'Show more links')
    : null;
  const details = h(
    'details',
    { class: 'share-links', open: openLists.has(sid) },
    h('summary', { class: 'share-summary' }, h('span', { class: 'share-summary-text', text: `Live links (${count})` })),
    list,
    more,
  );
  details.addEventListener('toggle', () => {
    if (details.open) openLists.add(sid);
    else openLists.delete(sid);
  });
  const cells = row.children.length;
  const linksRow = h('tr', { class: 'links-row', dataset: { linksFor: sid } }, h('td', { colspan: String(cells), class: 'links-cell' }, details));
  if (existing) existing.replaceWith(linksRow);
  else row.after(linksRow);
  row.classList.add('has-links');
}

/**
 * @param {string} sid @param {HTMLUListElement} list @param {string} token
 * @param {EventTarget | null} button
 */
async function loadMore(sid, list, token, button) {
  await withBusy(button, async () => {
    try {
      const res = await api('GET', '/media/{MediaSid}/share-links', { path: { MediaSid: sid }, query: { page_size: LINKS_PAGE_SIZE, page_token: token } });
      list.append(...res.share_links.map((l) => renderLink(sid, l)));
      const summary = list.closest('details')?.querySelector('.share-summary-text');
      if (summary) summary.textContent = `Live links (${list.children.length}${res.next_page_token ? '+' : ''})`;
      if (res.next_page_token) {
        const next = res.next_page_token;
        const fresh = h('button', { type: 'button', class: 'btn btn-ghost btn-small', on: { click: (e) => loadMore(sid, list, next, e.currentTarget) } }, 'Show more links');
        if (button instanceof Element) button.replaceWith(fresh);
      } else if (button instanceof Element) button.remove();
    } catch (err) {
      reportError(err, 'Could not load more share links');
    }
  });
}

/** @param {string} mediaSid @param {ShareLink} l */
function renderLink(mediaSid, l) {
  const uses = l.max_uses === null ? `${l.uses} use${l.uses === 1 ? '' : 's'}, unlimited` : `${l.uses} / ${l.max_uses} use${l.max_uses === 1 ? '' : 's'}`;
  const name = l.label ? h('strong', { class: 'share-label', text: l.label }) : h('span', { class: 'share-label muted', text: l.max_uses === 1 ? 'One-time link' : 'Link' });
  return h(
    'li',
    { class: 'share-item', dataset: { sid: l.sid } },
    h(
      'div',
      { class: 'share-info' },
      name,
      h(
        'span',
        { class: 'share-dates muted fine' },
        'Created ',
        h('time', { datetime: l.created_at, title: formatFullDate(l.created_at), text: formatRelative(l.created_at) }),
        ' · expires ',
        h('time', { datetime: l.expires_at, title: formatFullDate(l.expires_at), text: formatDate(l.expires_at) }),
      ),
    ),
    h('span', { class: 'share-uses', title: 'Uses: GETs answered with the media', text: uses }),
    h('button', { type: 'button', class: 'btn btn-danger-ghost btn-small', title: `Revoke ${l.label || 'this link'}`, on: { click: (e) => revoke(mediaSid, l, e.currentTarget) } }, 'Revoke'),
  );
}

/** @param {string} mediaSid @param {ShareLink} l @param {EventTarget | null} button */
async function revoke(mediaSid, l, button) {
  const ok = await confirmAction({
    title: 'Revoke this share link?',
    body: [
      h('p', {}, l.label ? h('strong', { text: l.label }) : 'The link', ` (${l.sid}) answers 404 from now on, for everyone who has it.`),
      h('p', { class: 'muted', text: 'Someone who opened it moments ago keeps the store URL it gave them for a few minutes at most. This cannot be undone.' }),
    ],
    confirmLabel: 'Revoke link',
    danger: true,
  });
  if (!ok) return;
  await withBusy(button, async () => {
    try {
      await api('DELETE', '/share-links/{ShareLinkSid}', { path: { ShareLinkSid: l.sid } });
      toast('Share link revoked.');
    } catch (err) {
      // 404: already gone (expired, used up, revoked elsewhere); the list below says so.
      if (!(err instanceof ApiError && err.status === 404)) reportError(err, 'Could not revoke the link');
    }
    try {
      await refreshLinks(mediaSid, { open: true });
    } catch (err) {
      reportError(err, 'Could not load the share links');
    }
  });
}
