// A list the API pages newest first (API keys, applications): the newest page, `Load
// more` below it, a count once there is more than one page, and a row removed in place.

import { byId, reportError } from './ui.js';

/**
 * @template T
 * @typedef {object} PagedListSpec
 * @property {(pageToken: string | undefined) => Promise<{ items: T[], next: string | null }>} fetchPage
 * @property {(item: T) => HTMLElement} render
 * @property {string} rows the id of the rows' tbody
 * @property {string} prefix ids of the other parts: PREFIX-empty, PREFIX-more, PREFIX-info
 * @property {string} noun the items, plural, in the count ("keys")
 * @property {string} what the items in an error ("API keys")
 * @property {number} pageSize
 */

/**
 * @template T
 * @param {PagedListSpec<T>} spec
 */
export function pagedList(spec) {
  const part = (/** @type {string} */ name) => byId(`${spec.prefix}-${name}`);
  let seq = 0;
  let shown = 0;
  /** @type {string | null} */
  let next = null;

  function show() {
    part('empty').hidden = shown > 0 || next !== null;
    part('more').hidden = !next;
    part('info').textContent = next ? `The newest ${shown} ${spec.noun}` : shown > spec.pageSize ? `${shown} ${spec.noun}` : '';
  }

  /** @param {boolean} more the next page below those shown, rather than the newest again */
  async function load(more) {
    const token = more ? next : undefined;
    if (more && !token) return;
    // A newer load (or a reset) makes this one's answer stale.
    const mine = more ? seq : ++seq;
    try {
      const page = await spec.fetchPage(token ?? undefined);
      if (mine !== seq) return;
      const rows = page.items.map(spec.render);
      if (more) byId(spec.rows).append(...rows);
      else byId(spec.rows).replaceChildren(...rows);
      shown = (more ? shown : 0) + page.items.length;
      next = page.next;
      show();
    } catch (err) {
      if (mine === seq) reportError(err, more ? `Could not load more ${spec.what}` : `Could not load the ${spec.what}`);
    }
  }

  return {
    /** The newest page again (after any change the page made). */
    reload: () => load(false),
    more: () => load(true),
    reset() {
      seq += 1;
      next = null;
      shown = 0;
      byId(spec.rows).replaceChildren();
      part('empty').hidden = true;
      part('more').hidden = true;
      part('info').textContent = '';
    },
    /**
     * One item went: only its row goes, the pages loaded below it stay.
     * @param {string} selector its row, within the list
     */
    async removeRow(selector) {
      byId(spec.rows).querySelector(selector)?.remove();
      shown = Math.max(0, shown - 1);
      if (shown === 0 && next) await load(false);
      else show();
    },
  };
}
