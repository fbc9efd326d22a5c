// The media list (newest first, paged, filtered by kind), upload, preview, download,
// copy URL, share and delete.

import { api } from './api.js';
import { describeType, formatBytes, formatDate, formatFullDate, formatRelative, kindName, mediaType, previewKind } from './format.js';
import { mountShare, openShare, resetShare, showShareLinks } from './share.js';
import { badge, byId, confirmAction, copyToClipboard, h, icon, reportError, toast, withBusy } from './ui.js';
import { DIRECT_UPLOAD_MIN_BYTES, sendFile } from './uploads.js';

/** @typedef {import('./api.js').Kind} Kind */
/** @typedef {import('./api.js').Schemas['Media']} Media */

const PAGE_SIZE = 20;
// Thumbnails load the whole object: only for images up to this size.
const THUMBNAIL_MAX_BYTES = 5 * 1024 * 1024;

const state = {
  /** @type {Kind | ''} '' for every kind */
  kind: '',
  /** page tokens: [0] is the first page (no token), [i] the token that fetched page i */
  tokens: /** @type {(string | undefined)[]} */ ([undefined]),
  page: 0,
  /** @type {string | null} */
  nextToken: null,
  loadSeq: 0,
};

/** @type {Kind[]} the API's kinds, as the protection settings named them (showKinds) */
let kinds = [];

/** @type {Map<string, {url: string, expires: number}>} sid + disposition → signed URL; reused until shortly before it expires */
const signedUrls = new Map();
/** @type {IntersectionObserver | null} */
let thumbObserver = null;
/** @type {WeakMap<Element, Media>} thumb button → its media, for the observer */
const thumbMedia = new WeakMap();

/** @param {string} value a select's @returns {Kind | undefined} */
const kindOf = (value) => kinds.find((k) => k === value);

export function mountMedia() {
  const filter = byId('media-filter', HTMLSelectElement);
  filter.addEventListener('change', () => {
    state.kind = kindOf(filter.value) ?? '';
    resetPaging();
    loadMedia();
  });
  byId('media-refresh').addEventListener('click', (e) => withBusy(e.currentTarget, () => loadMedia()));
  byId('media-prev').addEventListener('click', () => {
    if (state.page === 0) return;
    state.page -= 1;
    loadMedia();
  });
  byId('media-next').addEventListener('click', () => {
    if (!state.nextToken) return;
    state.tokens[state.page + 1] = state.nextToken;
    state.page += 1;
    loadMedia();
  });

  const input = byId('upload-file', HTMLInputElement);
  // Which way a file goes, said on the page (and read by the tests).
  input.dataset.directFromBytes = String(DIRECT_UPLOAD_MIN_BYTES);
  byId('upload-path-hint').textContent = `Files over ${formatBytes(DIRECT_UPLOAD_MIN_BYTES).replace('.0 ', ' ')} go straight to the store; smaller ones through mediagate.`;
  input.addEventListener('change', () => {
    const files = Array.from(input.files ?? []);
    // Cleared so that choosing the same file again uploads it again.
    input.value = '';
    uploadAll(files);
  });
  const zone = byId('dropzone');
  zone.addEventListener('dragover', (e) => {
    if (!e.dataTransfer || !Array.from(e.dataTransfer.types).includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    zone.classList.add('is-dragging');
  });
  zone.addEventListener('dragleave', (e) => {
    const to = e.relatedTarget;
    if (!(to instanceof Node && zone.contains(to))) zone.classList.remove('is-dragging');
  });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('is-dragging');
    uploadAll(Array.from(e.dataTransfer?.files ?? []));
  });

  const dialog = byId('preview-dialog', HTMLDialogElement);
  byId('preview-close').addEventListener('click', () => dialog.close());
  // Stops audio or video that is still playing when the dialog closes.
  dialog.addEventListener('close', () => byId('preview-body').replaceChildren());
  // A click on the backdrop (the dialog element itself, outside its content) closes it.
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close();
  });
  mountShare();
}

/**
 * Gives the kind selects (upload, filter) an option for each of the API's kinds, in its
 * order; options already there stay, and so does the choice made.
 * @param {Kind[]} apiKinds
 */
export function showKinds(apiKinds) {
  kinds = apiKinds;
  for (const select of [byId('upload-kind', HTMLSelectElement), byId('media-filter', HTMLSelectElement)]) {
    const present = new Set(Array.from(select.options, (o) => o.value));
    for (const kind of apiKinds) if (!present.has(kind)) select.append(h('option', { value: kind, text: kindName(kind) }));
  }
}

function resetPaging() {
  state.tokens = [undefined];
  state.page = 0;
  state.nextToken = null;
}

export function resetMedia() {
  state.loadSeq += 1;
  state.kind = '';
  byId('media-filter', HTMLSelectElement).value = '';
  resetPaging();
  signedUrls.clear();
  resetShare();
  thumbObserver?.disconnect();
  byId('media-rows').replaceChildren();
  byId('upload-list').replaceChildren();
  byId('media-empty').hidden = true;
  byId('media-loading').hidden = false;
  byId('media-page-info').textContent = '';
}

export async function loadMedia() {
  const seq = ++state.loadSeq;
  const loading = byId('media-loading');
  loading.hidden = false;
  loading.textContent = 'Loading media…';
  byId('media-table').setAttribute('aria-busy', 'true');
  try {
    const res = await api('GET', '/media', {
      query: { kind: state.kind || undefined, page_size: PAGE_SIZE, page_token: state.tokens[state.page] },
    });
    if (seq !== state.loadSeq) return;
    state.nextToken = res.next_page_token ?? null;
    renderRows(res.media);
    loading.hidden = true;
    // Below each row, its live share links (they arrive after the rows).
    showShareLinks(res.media);
  } catch (err) {
    if (seq !== state.loadSeq) return;
    loading.textContent = 'The media list could not be loaded.';
    reportError(err, 'Could not load the media list');
  } finally {
    if (seq === state.loadSeq) byId('media-table').removeAttribute('aria-busy');
  }
}

/** @param {Media[]} media */
function renderRows(media) {
  thumbObserver?.disconnect();
  thumbObserver = new IntersectionObserver(onThumbVisible, { rootMargin: '200px' });
  const rows = media.map(renderRow);
  byId('media-rows').replaceChildren(...rows);
  byId('media-empty').hidden = media.length > 0;
  byId('media-empty').textContent =
    state.page > 0
      ? 'No more media.'
      : state.kind
        ? `No ${kindName(state.kind).toLowerCase()} media yet.`
        : 'No media yet. Upload a file above or through the API.';
  byId('media-page-info').textContent = pageInfo(media.length);
  // One page only: nothing to turn.
  const onlyPage = state.page === 0 && !state.nextToken;
  const prev = byId('media-prev', HTMLButtonElement);
  const next = byId('media-next', HTMLButtonElement);
  prev.hidden = onlyPage;
  next.hidden = onlyPage;
  prev.disabled = state.page === 0;
  next.disabled = !state.nextToken;
}

/** "2 media" on the only page; "Showing 21–40" on one of several, "(the oldest)" on the last. */
function pageInfo(/** @type {number} */ count) {
  if (count === 0) return '';
  if (state.page === 0 && !state.nextToken) return `${count} ${state.kind ? `${kindName(state.kind).toLowerCase()} ` : ''}media`;
  const first = state.page * PAGE_SIZE + 1;
  return `Showing ${first}–${first + count - 1}${state.nextToken ? '' : ' (the oldest)'}`;
}

/** @param {Media} m */
function renderRow(m) {
  const label = m.filename || m.sid;
  const preview = previewKind(m.content_type);
  const thumb = renderThumb(m, preview, label);

  // Icon buttons keep the row on one line at laptop width; their names are the words.
  const actions = h(
    'div',
    { class: 'row-actions' },
    h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Download', title: `Download ${label}`, on: { click: (e) => download(m, e.currentTarget) } }, icon('download')),
    h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Copy media URL', title: 'Copy the media URL', on: { click: () => copyToClipboard(m.url, 'Media URL') } }, icon('copy')),
    h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Share', title: `Share ${label}: a link for people without credentials`, on: { click: () => openShare(m) } }, icon('share')),
    h('button', { type: 'button', class: 'btn btn-icon btn-icon-danger', 'aria-label': 'Delete', title: `Delete ${label}`, on: { click: (e) => deleteMedia(m, e.currentTarget) } }, icon('trash')),
  );

  return h(
    'tr',
    { dataset: { sid: m.sid, kind: m.kind } },
    h('td', { class: 'col-thumb' }, thumb),
    h(
      'td',
      { class: 'cell-media', 'data-label': 'Media' },
      h('span', { class: 'media-name', text: m.filename || 'Untitled', title: m.filename || '' }),
      h('code', { class: 'mono media-sid', text: m.sid, title: 'Media SID' }),
    ),
    h('td', { 'data-label': 'Kind', text: kindName(m.kind) }),
    h('td', { 'data-label': 'Type', class: 'cell-nowrap', text: describeType(m.content_type), title: m.content_type }),
    h('td', { class: 'num', 'data-label': 'Size', text: formatBytes(m.size_bytes), title: `${m.size_bytes} bytes` }),
    h('td', { 'data-label': 'Created' }, h('time', { datetime: m.created_at, title: formatFullDate(m.created_at), text: formatRelative(m.created_at) })),
    h(
      'td',
      { 'data-label': 'Access' },
      m.requires_auth
        ? badge('Protected', 'ok')
        : h('span', { title: 'Reachable at its URL without credentials' }, badge('Public', 'warn')),
    ),
    h('td', { class: 'col-actions' }, actions),
  );
}

/**
 * @param {Media} m
 * @param {'image' | 'audio' | 'video' | null} preview
 * @param {string} label
 */
function renderThumb(m, preview, label) {
  const glyph = h('span', { class: `thumb-glyph thumb-${preview ?? 'file'}`, 'aria-hidden': 'true', text: glyphText(m.content_type, preview) });
  if (!preview) return h('span', { class: 'thumb' }, glyph);
  const button = h('button', { type: 'button', class: 'thumb thumb-button', 'aria-label': 'Preview', title: `Preview ${label}`, on: { click: () => openPreview(m) } }, glyph);
  if (preview === 'image' && m.size_bytes <= THUMBNAIL_MAX_BYTES) {
    button.dataset.sid = m.sid;
    thumbObserver?.observe(button);
    thumbMedia.set(button, m);
  }
  return button;
}

/** @param {IntersectionObserverEntry[]} entries */
function onThumbVisible(entries) {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    const button = entry.target;
    thumbObserver?.unobserve(button);
    const m = thumbMedia.get(button);
    if (!m) continue;
    signedUrl(m, false)
      .then((url) => {
        const img = h('img', { alt: '', class: 'thumb-img', decoding: 'async' });
        img.addEventListener('load', () => button.classList.add('has-image'), { once: true });
        img.addEventListener('error', () => img.remove(), { once: true });
        img.src = url;
        button.append(img);
      })
      // A thumbnail is decoration: without it the glyph stays, and Preview still reports errors.
      .catch(() => {});
  }
}

/** @param {string} contentType @param {'image' | 'audio' | 'video' | null} preview */
function glyphText(contentType, preview) {
  if (preview === 'audio') return '♪';
  if (preview === 'video') return '▶';
  const sub = mediaType(contentType).split('/')[1] ?? '';
  return sub.replace(/^(x-|vnd\.)/, '').slice(0, 4).toUpperCase() || 'FILE';
}

/**
 * A signed URL for the media, from `?redirect=false` (same checks as the media URL).
 * @param {Media} m
 * @param {boolean} attachment
 * @returns {Promise<string>}
 */
async function signedUrl(m, attachment) {
  const key = `${m.sid}:${attachment ? 'a' : 'i'}`;
  const cached = signedUrls.get(key);
  if (cached && cached.expires - Date.now() > 60_000) return cached.url;
  const res = await api('GET', '/media/{MediaSid}', {
    path: { MediaSid: m.sid },
    query: { redirect: 'false', disposition: attachment ? 'attachment' : undefined },
  });
  const expires = Date.parse(res.expires_at);
  signedUrls.set(key, { url: res.url, expires: Number.isNaN(expires) ? Date.now() + 120_000 : expires });
  return res.url;
}

/** @param {Media} m */
async function openPreview(m) {
  const dialog = byId('preview-dialog', HTMLDialogElement);
  const body = byId('preview-body');
  const kind = previewKind(m.content_type);
  byId('preview-title').textContent = m.filename || m.sid;
  byId('preview-meta').textContent = `${describeType(m.content_type)} · ${formatBytes(m.size_bytes)} · ${kindName(m.kind)} · created ${formatDate(m.created_at)}`;
  body.replaceChildren(h('p', { class: 'muted', text: 'Loading preview…' }));
  dialog.showModal();
  let url;
  try {
    url = await signedUrl(m, false);
  } catch (err) {
    body.replaceChildren(h('p', { class: 'notice notice-error', text: 'The preview could not be loaded.' }));
    reportError(err, 'Could not open the preview');
    return;
  }
  if (!dialog.open) return;
  /** @type {HTMLImageElement | HTMLMediaElement} */
  let el;
  if (kind === 'image') el = h('img', { class: 'preview-media', alt: m.filename ? `Preview of ${m.filename}` : 'Media preview' });
  else if (kind === 'audio') el = h('audio', { class: 'preview-media', controls: true, preload: 'metadata' });
  else el = h('video', { class: 'preview-media', controls: true, preload: 'metadata', playsinline: true });
  el.addEventListener(
    'error',
    () => body.replaceChildren(h('p', { class: 'notice notice-error', text: 'This file could not be shown by the browser. Download it instead.' })),
    { once: true },
  );
  el.src = url;
  const downloadButton = h('button', { type: 'button', class: 'btn btn-secondary btn-small', on: { click: (e) => download(m, e.currentTarget) } }, 'Download');
  body.replaceChildren(el, h('div', { class: 'preview-actions' }, downloadButton));
}

/** @param {Media} m @param {EventTarget | null} button */
async function download(m, button) {
  await withBusy(button, async () => {
    try {
      const url = await signedUrl(m, true);
      // The signed URL answers with Content-Disposition: attachment, so following it downloads.
      const a = h('a', { href: url, download: m.filename || '', rel: 'noopener', class: 'offscreen' });
      document.body.append(a);
      a.click();
      a.remove();
      toast(`Downloading ${m.filename || m.sid}…`, 'info');
    } catch (err) {
      reportError(err, 'Could not download');
    }
  });
}

/** @param {Media} m @param {EventTarget | null} button */
async function deleteMedia(m, button) {
  const label = m.filename || m.sid;
  const ok = await confirmAction({
    title: 'Delete this media?',
    body: [
      h('p', {}, h('strong', { text: label }), m.filename ? ` (${m.sid})` : '', ' will be deleted.'),
      h('p', { class: 'muted', text: 'Its URL answers 404 from then on, including links already handed out. This cannot be undone.' }),
    ],
    confirmLabel: 'Delete media',
    danger: true,
  });
  if (!ok) return;
  await withBusy(button, async () => {
    try {
      await api('DELETE', '/media/{MediaSid}', { path: { MediaSid: m.sid } });
      signedUrls.delete(`${m.sid}:a`);
      signedUrls.delete(`${m.sid}:i`);
      toast(`Deleted ${label}.`);
      await loadMedia();
    } catch (err) {
      reportError(err, `Could not delete ${label}`);
    }
  });
}

/** @param {File[]} files */
async function uploadAll(files) {
  if (files.length === 0) return;
  const kind = kindOf(byId('upload-kind', HTMLSelectElement).value);
  // No kinds yet: the protection settings, which name them, did not load (and said so).
  if (kind === undefined) {
    toast('Could not upload: the media kinds have not loaded. Reload the page and try again.', 'error');
    return;
  }
  let uploaded = 0;
  for (const file of files) {
    if (await uploadOne(file, kind)) uploaded += 1;
  }
  if (uploaded > 0) {
    // Newest first: show the first page, where the new media is.
    resetPaging();
    await loadMedia();
  }
}

/** @param {File} file @param {Kind} kind @returns {Promise<boolean>} */
async function uploadOne(file, kind) {
  const progress = h('progress', { max: '1', value: '0', 'aria-label': `Uploading ${file.name}` });
  const status = h('span', { class: 'upload-status muted', text: formatBytes(file.size) });
  const dismiss = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', hidden: true }, '×');
  const name = h('span', { class: 'upload-name', text: file.name || 'file', title: file.name || '' });
  const item = h('li', { class: 'upload-item' }, name, progress, status, dismiss);
  dismiss.addEventListener('click', () => item.remove());
  byId('upload-list').append(item);
  try {
    const sent = await sendFile(file, kind, {
      step(step) {
        if (step === 'hashing') {
          // Indeterminate while the page reads the file for its digest.
          progress.removeAttribute('value');
          status.textContent = 'Preparing…';
        } else if (step === 'sending') {
          progress.value = 0;
          status.textContent = '0 %';
        } else status.textContent = 'Finishing…';
      },
      progress(f) {
        progress.value = f;
        status.textContent = `${Math.round(f * 100)} %`;
      },
    });
    const m = sent.media;
    item.dataset.path = sent.path;
    progress.value = 1;
    item.classList.add('is-done');
    const how = sent.fellBack
      ? 'Uploaded through mediagate (the store refused this page: see its CORS rule)'
      : sent.path === 'direct'
        ? 'Uploaded straight to the store'
        : 'Uploaded';
    status.textContent = `${how} as ${kindName(kind).toLowerCase()} media, ${m.requires_auth ? 'protected' : 'public'}`;
    toast(`Uploaded ${file.name || m.sid}.`);
    setTimeout(() => item.remove(), sent.fellBack ? 20_000 : 6000);
    return true;
  } catch (err) {
    item.classList.add('is-failed');
    progress.remove();
    dismiss.hidden = false;
    status.textContent = err instanceof Error ? err.message : String(err);
    reportError(err, `Could not upload ${file.name || 'the file'}`);
    return false;
  }
}
