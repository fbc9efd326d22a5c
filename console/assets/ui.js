// Page building blocks: elements, feedback (toasts), confirmation dialogs, busy buttons,
// the clipboard. Text always goes in through textContent: nothing from the API is parsed
// as HTML.

import { ApiError, SessionEnded } from './api.js';

/**
 * What h() takes: class, text, dataset, on (event listeners), and any other attribute
 * (hidden, disabled, type, href, title, aria-*; true sets it empty, false or null leaves it out).
 * @typedef {{
 *   class?: string,
 *   text?: string | number,
 *   dataset?: Record<string, string>,
 *   on?: {[E in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[E]) => void},
 *   [attribute: string]: unknown,
 * }} Attrs
 */

/**
 * Creates an element. Children: nodes or strings.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    // Attrs gives each listener the event its name dispatches.
    else if (key === 'on') for (const [event, fn] of Object.entries(/** @type {Record<string, EventListener>} */ (value))) el.addEventListener(event, fn);
    else if (key === 'style') throw new Error('no inline styles: the page runs under a strict CSP; use a class');
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/**
 * The page's element with this id; with a type, checked to be one (byId('x', HTMLInputElement)).
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {{new (): T}} [type]
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  if (type && !(el instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  // Checked above when a type is given; without one, T is HTMLElement, which these all are.
  return /** @type {T} */ (el);
}

// ---- toasts ----

const TOAST_MS = { success: 4000, info: 4000, error: 9000 };
// Visible at once; an older one collapses when a new one would pass this.
const TOASTS_WIDE = 3;
const TOASTS_NARROW = 2;
const narrow = window.matchMedia('(max-width: 900px)');

/** The control last pressed outside a dialog: a new toast keeps it in sight. */
let lastControl = /** @type {Element | null} */ (null);
const CONTROLS = 'button, a[href], label, input, select, textarea, summary';
/** @param {Event} e */
const rememberControl = (e) => {
  const control = e.target instanceof Element ? e.target.closest(CONTROLS) : null;
  if (control && !control.closest('dialog, #toasts')) lastControl = control;
};
document.addEventListener('pointerdown', rememberControl, true);
document.addEventListener('keydown', rememberControl, true);

/**
 * Shows a short message. Errors go to the assertive (role=alert) region, the rest to
 * the polite one, so screen readers hear both. Each leaves by itself (later while the
 * pointer or focus is on it) or with its ×; past the visible few the oldest collapses,
 * an outcome before an error.
 * @param {string} message
 * @param {'success' | 'info' | 'error'} [tone]
 */
export function toast(message, tone = 'success') {
  const region = byId(tone === 'error' ? 'toast-alert' : 'toast-status');
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, '×');
  const item = h('div', { class: `toast toast-${tone}` }, h('span', { class: 'toast-text', text: message }), close);
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let remaining = TOAST_MS[tone];
  let since = 0;
  const remove = () => {
    clearTimeout(timer);
    if (item.classList.contains('toast-leaving')) return;
    item.classList.add('toast-leaving');
    setTimeout(() => item.remove(), 200);
  };
  const run = () => {
    since = Date.now();
    timer = setTimeout(remove, remaining);
  };
  const pause = () => {
    clearTimeout(timer);
    remaining = Math.max(1000, remaining - (Date.now() - since));
  };
  close.addEventListener('click', remove);
  item.addEventListener('mouseenter', pause);
  item.addEventListener('mouseleave', run);
  item.addEventListener('focusin', pause);
  item.addEventListener('focusout', run);
  const content = byId('content');
  const bottomBefore = content.getBoundingClientRect().bottom;
  region.append(item);
  collapseOlderToasts(item);
  keepInSight(lastControl, content, bottomBefore);
  run();
}

/**
 * On a narrow screen the toasts' row takes room from the content's box, which then ends
 * higher up: if the control just pressed was in sight and now would not be, the content
 * moves up just enough to keep it there.
 * @param {Element | null} control
 * @param {HTMLElement} content
 * @param {number} bottomBefore where the content's box ended before this toast
 */
function keepInSight(control, content, bottomBefore) {
  if (!control?.isConnected || getComputedStyle(content).overflowY === 'visible') return;
  const bottom = content.getBoundingClientRect().bottom;
  const box = control.getBoundingClientRect();
  if (box.height === 0 || box.top >= bottomBefore || box.bottom <= bottom) return;
  content.scrollBy({ top: box.bottom - bottom + 8, behavior: 'instant' });
}

/** @param {Element} newest */
function collapseOlderToasts(newest) {
  const max = narrow.matches ? TOASTS_NARROW : TOASTS_WIDE;
  const shown = () => Array.from(document.querySelectorAll('#toasts .toast:not(.toast-leaving)'));
  for (let list = shown(); list.length > max; list = shown()) {
    // Oldest first: outcomes go before errors, which say something still to be read.
    const older = list.filter((t) => t !== newest);
    const victim = older.find((t) => !t.classList.contains('toast-error')) ?? older[0];
    if (!victim) return;
    victim.remove();
  }
}

/** Removes every toast (signing out should not leave the last account's messages). */
export function clearToasts() {
  byId('toast-status').replaceChildren();
  byId('toast-alert').replaceChildren();
}

/**
 * Shows what went wrong, in words. A SessionEnded needs no toast: the sign-in form says it.
 * @param {unknown} err
 * @param {string} action what was being done, e.g. "Could not delete the key"
 */
export function reportError(err, action) {
  if (err instanceof SessionEnded) return;
  if (err instanceof ApiError) {
    toast(`${action}: ${err.message}`, 'error');
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  toast(`${action}: ${message}`, 'error');
}

// ---- busy buttons ----

/**
 * Runs fn with the button disabled and marked busy, so a double click does not send twice.
 * @template T
 * @param {EventTarget | null} target the button (an event's currentTarget will do)
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withBusy(target, fn) {
  const button = target instanceof HTMLButtonElement ? target : null;
  if (button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    button.classList.add('is-busy');
  }
  try {
    return await fn();
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.classList.remove('is-busy');
    }
  }
}

// ---- confirmation dialog ----

/**
 * @typedef {object} ConfirmOptions
 * @property {string} title
 * @property {string | Node[]} body
 * @property {string} confirmLabel the action, e.g. "Delete key"
 * @property {boolean} [danger]
 * @property {boolean} [confirmDisabled] e.g. while a count is still running
 */

/**
 * Opens the confirmation dialog. The returned handle can change the text while the
 * dialog is open (a count finishing); `result` resolves true only for the confirm button.
 * @param {ConfirmOptions} options
 */
export function openConfirm(options) {
  const dialog = byId('confirm-dialog', HTMLDialogElement);
  const title = byId('confirm-title');
  const body = byId('confirm-body');
  const ok = byId('confirm-ok', HTMLButtonElement);
  const cancel = byId('confirm-cancel', HTMLButtonElement);

  const setBody = (/** @type {string | Node[]} */ content) => {
    if (typeof content === 'string') body.replaceChildren(h('p', { text: content }));
    else body.replaceChildren(...content);
  };
  const setConfirm = (/** @type {string} */ label, /** @type {boolean} */ enabled) => {
    ok.textContent = label;
    ok.disabled = !enabled;
  };

  title.textContent = options.title;
  setBody(options.body);
  setConfirm(options.confirmLabel, !options.confirmDisabled);
  ok.classList.toggle('btn-danger', Boolean(options.danger));
  ok.classList.toggle('btn-primary', !options.danger);
  dialog.returnValue = '';

  /** @type {Promise<boolean>} */
  const result = new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
  });
  dialog.showModal();
  // Start on Cancel: Enter should not confirm a destructive action by accident.
  cancel.focus();
  return {
    result,
    setBody,
    setConfirm,
    isOpen: () => dialog.open,
    close: () => dialog.open && dialog.close('cancel'),
  };
}

/** @param {ConfirmOptions} options @returns {Promise<boolean>} */
export function confirmAction(options) {
  return openConfirm(options).result;
}

/** Closes any open dialog (signing out). */
export function closeDialogs() {
  for (const d of document.querySelectorAll('dialog')) if (d.open) d.close('cancel');
}

// ---- clipboard ----

/**
 * Copies text and says so. The async clipboard needs a secure context (https or
 * localhost); elsewhere the older selection copy is tried.
 * @param {string} text
 * @param {string} what e.g. "Media URL"
 */
export async function copyToClipboard(text, what) {
  let copied = false;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch {
      copied = false;
    }
  }
  if (!copied) copied = copyBySelection(text);
  if (copied) toast(`${what} copied to the clipboard.`, 'success');
  else toast(`${what} could not be copied: select it and copy it by hand. ${text}`, 'error');
  return copied;
}

/** @param {string} text */
function copyBySelection(text) {
  const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

const ICON_PATHS = {
  download: 'M12 4v11m0 0-4-4m4 4 4-4M5 19h14',
  copy: 'M9 9h10v10H9zM5 15V5h10',
  trash: 'M4 7h16M10 11v6m4-6v6M6 7l1 12a1 1 0 0 0 1 1h8a1 1 0 0 0 1-1l1-12M9 7V4h6v3',
  share: 'M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1',
};

/**
 * A line icon drawn with SVG elements (no image request, nothing the CSP refuses).
 * @param {keyof typeof ICON_PATHS} name
 */
export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICON_PATHS[name]);
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.8');
  path.setAttribute('stroke-linecap', 'round');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);
  return svg;
}

/**
 * A badge: a small coloured word.
 * @param {string} text
 * @param {'ok' | 'warn'} tone
 */
export function badge(text, tone) {
  return h('span', { class: `badge badge-${tone}`, text });
}
