// The events list: credential and setting changes, newest first, with "load older".

import { api } from './api.js';
import { describeEvent, formatFullDate, formatRelative } from './format.js';
import { byId, h, reportError, withBusy } from './ui.js';

/** @typedef {import('./api.js').Schemas['AccountEvent']} AccountEvent */

const PAGE_SIZE = 25;

const state = { nextToken: /** @type {string | null} */ (null), loadSeq: 0 };
/** @type {(events: AccountEvent[], nextToken: string | null) => void} */
let onFirstPage = () => {};

/** @param {{onFirstPage: (events: AccountEvent[], nextToken: string | null) => void}} hooks nextToken: null when these are all the events */
export function mountEvents(hooks) {
  onFirstPage = hooks.onFirstPage;
  byId('events-refresh').addEventListener('click', (e) => withBusy(e.currentTarget, () => loadEvents()));
  byId('events-more').addEventListener('click', (e) => withBusy(e.currentTarget, () => loadOlder()));
}

export function resetEvents() {
  state.loadSeq += 1;
  state.nextToken = null;
  byId('event-rows').replaceChildren();
  byId('events-empty').hidden = true;
  byId('events-more').hidden = true;
}

/** Loads the newest page again (after any change the page made). */
export async function loadEvents() {
  const seq = ++state.loadSeq;
  try {
    const res = await api('GET', '/events', { query: { page_size: PAGE_SIZE } });
    if (seq !== state.loadSeq) return;
    const events = res.events ?? [];
    state.nextToken = res.next_page_token ?? null;
    byId('event-rows').replaceChildren(...events.map(renderEvent));
    byId('events-empty').hidden = events.length > 0;
    byId('events-more').hidden = !state.nextToken;
    onFirstPage(events, state.nextToken);
  } catch (err) {
    if (seq === state.loadSeq) reportError(err, 'Could not load the events');
  }
}

async function loadOlder() {
  if (!state.nextToken) return;
  const seq = state.loadSeq;
  try {
    const res = await api('GET', '/events', { query: { page_size: PAGE_SIZE, page_token: state.nextToken } });
    if (seq !== state.loadSeq) return;
    byId('event-rows').append(...(res.events ?? []).map(renderEvent));
    state.nextToken = res.next_page_token ?? null;
    byId('events-more').hidden = !state.nextToken;
  } catch (err) {
    reportError(err, 'Could not load older events');
  }
}

/** @param {AccountEvent} event */
function renderEvent(event) {
  const { title, detail } = describeEvent(event);
  return h(
    'tr',
    { dataset: { type: event.type } },
    h('td', { 'data-label': 'When', class: 'cell-nowrap' }, h('time', { datetime: event.created_at, title: formatFullDate(event.created_at), text: formatRelative(event.created_at) })),
    h('td', { 'data-label': 'Event', class: 'cell-strong', text: title }),
    h('td', { 'data-label': 'Details', class: 'cell-detail', text: detail || '—' }),
  );
}
