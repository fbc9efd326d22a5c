// The console's entry: decides between sign-in and the signed-in page, and wires the
// sections together. Loaded as a module from index.html (no inline script: the page
// runs under Content-Security-Policy: default-src 'self').

import { ApiError, currentSession, loadSession, onSessionEnded, signIn, signOut } from './api.js';
import { loadApplications, mountApplications, resetApplications } from './applications.js';
import { loadKeys, mountCredentials, resetCredentials, showTokenState } from './credentials.js';
import { loadEvents, mountEvents, resetEvents } from './events.js';
import { loadMedia, mountMedia, resetMedia, showKinds } from './media.js';
import { loadProtection, mountProtection, resetProtection } from './protection.js';
import { byId, clearToasts, closeDialogs, copyToClipboard, reportError, toast, withBusy } from './ui.js';

const ACCOUNT_SID = /^AC[0-9a-f]{32}$/;

/** @type {ReturnType<typeof setTimeout> | undefined} */
let expiryTimer;
/** Marks the section in view in the navigation (sections have no size while hidden). */
let highlightSection = () => {};

function boot() {
  const refreshEvents = () => {
    loadEvents();
  };
  mountProtection({ onChange: refreshEvents, onKinds: showKinds });
  mountMedia();
  mountCredentials({ onChange: refreshEvents });
  mountApplications({ onChange: refreshEvents });
  mountEvents({ onFirstPage: showTokenState });
  highlightSection = mountNavigation();
  mountCopyButtons();

  const form = byId('signin-form', HTMLFormElement);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitSignIn(form.querySelector('button[type=submit]'));
  });
  byId('signout').addEventListener('click', (e) => doSignOut(e.currentTarget));
  onSessionEnded((message) => showSignIn(message, 'warn'));

  loadSession()
    .then((session) => (session ? enterConsole() : showSignIn()))
    .catch((err) => showSignIn(err instanceof Error ? err.message : String(err), 'error'));
}

/**
 * @param {string} [message]
 * @param {'info' | 'warn' | 'error'} [tone]
 */
function showSignIn(message, tone = 'info') {
  clearTimeout(expiryTimer);
  closeDialogs();
  clearToasts();
  // Nothing of the account stays in the page once signed out.
  resetProtection();
  resetMedia();
  resetCredentials();
  resetApplications();
  resetEvents();
  byId('account-sid').textContent = '';
  byId('boot').hidden = true;
  byId('app-view').hidden = true;
  byId('signin-view').hidden = false;
  document.title = 'Sign in · mediagate console';
  showSignInMessage(message, tone);
  const sid = byId('signin-sid', HTMLInputElement);
  const token = byId('signin-token', HTMLInputElement);
  token.value = '';
  (sid.value ? token : sid).focus();
}

/** @param {string | undefined} message @param {'info' | 'warn' | 'error'} tone */
function showSignInMessage(message, tone) {
  const box = byId('signin-message');
  box.hidden = !message;
  box.textContent = message ?? '';
  box.className = `notice notice-${tone}`;
}

function enterConsole() {
  const session = currentSession();
  if (!session) {
    showSignIn();
    return;
  }
  byId('boot').hidden = true;
  byId('signin-view').hidden = true;
  byId('app-view').hidden = false;
  byId('account-sid').textContent = session.account_sid;
  document.title = 'mediagate console';
  highlightSection();
  scheduleExpiry(session.expires_at);
  loadProtection();
  loadMedia();
  loadKeys();
  loadApplications();
  loadEvents();
}

/**
 * At the session's end the server refuses it; say so before the next click fails.
 * @param {string} expiresAt
 */
function scheduleExpiry(expiresAt) {
  clearTimeout(expiryTimer);
  const at = Date.parse(expiresAt);
  if (Number.isNaN(at)) return;
  // setTimeout holds at most 2^31-1 ms (about 24.8 days).
  const delay = Math.min(Math.max(at - Date.now(), 0) + 1000, 2 ** 31 - 1);
  expiryTimer = setTimeout(async () => {
    try {
      const session = await loadSession();
      if (session) scheduleExpiry(session.expires_at);
      else showSignIn('Your session expired. Sign in again to continue.', 'warn');
    } catch {
      // Offline: the next API call will tell.
    }
  }, delay);
}

/** @param {Element | null} button */
async function submitSignIn(button) {
  const sidInput = byId('signin-sid', HTMLInputElement);
  const tokenInput = byId('signin-token', HTMLInputElement);
  const sid = sidInput.value.trim();
  const token = tokenInput.value.trim();
  if (sid === '' || token === '') {
    showSignInMessage('Enter your account SID and auth token.', 'error');
    (sid === '' ? sidInput : tokenInput).focus();
    return;
  }
  if (!ACCOUNT_SID.test(sid)) {
    showSignInMessage('An account SID is “AC” followed by 32 lowercase hexadecimal characters.', 'error');
    sidInput.focus();
    return;
  }
  showSignInMessage(undefined, 'info');
  await withBusy(button, async () => {
    try {
      await signIn(sid, token);
      tokenInput.value = '';
      enterConsole();
      toast('Signed in.', 'success');
    } catch (err) {
      const message = err instanceof ApiError ? err.message : String(err);
      const prefix = err instanceof ApiError && err.status === 401 ? 'Sign-in failed: ' : '';
      showSignInMessage(`${prefix}${message}`, 'error');
      tokenInput.select();
    }
  });
}

/** @param {EventTarget | null} button */
async function doSignOut(button) {
  await withBusy(button, async () => {
    try {
      await signOut();
      showSignIn('You have signed out.', 'info');
    } catch (err) {
      reportError(err, 'Could not sign out');
    }
  });
}

/**
 * Highlights the section being read: the last one whose top has reached the top of the
 * content (the line just below the bars that stay put). The content scrolls in the
 * window on a wide screen and in its own box on a narrow one, where the links are one
 * row that scrolls sideways, with a hint at each edge that hides more of them. A click
 * on a link marks it at once and keeps it marked while the page scrolls there (smoothly,
 * past other sections). Links are plain anchors, so they work without this.
 */
function mountNavigation() {
  const links = Array.from(document.querySelectorAll('.navlink')).filter((l) => l instanceof HTMLAnchorElement);
  const content = byId('content');
  const row = byId('nav-scroll');
  const hintStart = byId('nav-hint-start');
  const hintEnd = byId('nav-hint-end');
  /** @type {HTMLAnchorElement | null} the clicked link, until the scroll it started is over */
  let heading = null;

  /** Where the reading area starts: below the top bar (and the row of links on a phone). */
  const readingTop = () => (getComputedStyle(content).overflowY === 'visible' ? byId('app-view').querySelector('.topbar')?.getBoundingClientRect().bottom ?? 0 : content.getBoundingClientRect().top);

  /** @returns {HTMLAnchorElement | undefined} */
  const linkInView = () => {
    // A little below the line: a section scrolled to lands with its scroll-margin there.
    const line = readingTop() + 48;
    let current = links[0];
    for (const l of links) {
      const section = document.getElementById(l.dataset.section ?? '');
      if (section && section.getBoundingClientRect().top <= line) current = l;
    }
    return current;
  };

  /** @param {HTMLAnchorElement | undefined} current */
  const mark = (current) => {
    for (const l of links) {
      if (l !== current) l.removeAttribute('aria-current');
      else if (!l.hasAttribute('aria-current')) {
        l.setAttribute('aria-current', 'location');
        revealLink(l);
      }
    }
  };

  const update = () => {
    const current = linkInView();
    if (heading) {
      // Arrived: from here on the scroll position decides again.
      if (current === heading) heading = null;
      else return;
    }
    mark(current);
  };

  // On a phone the links are one scrolling row: keep the current one in sight.
  const revealLink = (/** @type {HTMLElement} */ link) => {
    if (row.scrollWidth <= row.clientWidth) return;
    const left = link.offsetLeft - (row.clientWidth - link.offsetWidth) / 2;
    row.scrollTo({ left: Math.max(0, left), behavior: 'smooth' });
  };
  const showHints = () => {
    const more = row.scrollWidth - row.clientWidth;
    hintStart.hidden = !(more > 1 && row.scrollLeft > 1);
    hintEnd.hidden = !(more > 1 && row.scrollLeft < more - 1);
  };

  for (const l of links) {
    l.addEventListener('click', () => {
      heading = l;
      mark(l);
    });
  }
  // The reader takes over: a wheel, a touch, a key or a press (on a scroll bar, say) ends
  // the wait for a clicked section. (Not scrollend: one from an earlier scroll can come
  // after the next click.)
  const readerScrolls = () => {
    if (!heading) return;
    heading = null;
    update();
  };
  for (const type of ['wheel', 'touchstart', 'keydown', 'pointerdown']) window.addEventListener(type, readerScrolls, { passive: true, capture: true });
  for (const target of [window, content]) target.addEventListener('scroll', update, { passive: true });
  row.addEventListener('scroll', showHints, { passive: true });
  // The row's width changes with the window and its links' with the fonts.
  new ResizeObserver(showHints).observe(row);
  const refresh = () => {
    update();
    showHints();
  };
  window.addEventListener('resize', refresh);
  return refresh;
}

function mountCopyButtons() {
  for (const button of document.querySelectorAll('[data-copy-from]')) {
    if (!(button instanceof HTMLElement)) continue;
    button.addEventListener('click', () => {
      const source = byId(button.dataset.copyFrom ?? '');
      const what = button.dataset.copyWhat ?? 'Value';
      copyToClipboard(source.textContent ?? '', what);
    });
  }
  byId('copy-account-sid').addEventListener('click', () => {
    const sid = currentSession()?.account_sid;
    if (sid) copyToClipboard(sid, 'Account SID');
  });
}

boot();
