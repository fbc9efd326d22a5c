// How values read on the page: sizes, dates, event descriptions.

/** @typedef {import('./api.js').Schemas['AccountEvent']} AccountEvent */

/**
 * "Message" for message: a kind's name is its word, capitalised (so the API's list of
 * kinds is the only one).
 * @param {string} kind
 */
export function kindName(kind) {
  return kind.charAt(0).toUpperCase() + kind.slice(1);
}

/** @param {number} bytes */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** @param {number} n */
export function formatCount(n) {
  return new Intl.NumberFormat().format(n);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const fullDateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });

/** @param {string | null | undefined} iso */
export function formatDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

/** @param {string | null | undefined} iso the full date, for a title tooltip */
export function formatFullDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : fullDateTime.format(d);
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/**
 * "3 minutes ago", "yesterday"; dates older than a week read as dates.
 * @param {string | null | undefined} iso
 */
export function formatRelative(iso, now = Date.now()) {
  if (!iso) return '—';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const seconds = Math.round((t - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), 'hour');
  if (abs < 7 * 86_400) return relative.format(Math.round(seconds / 86_400), 'day');
  return formatDate(iso);
}

/**
 * A short type for a Content-Type: "PNG image", "MP3 audio", else the type itself.
 * @param {string | null | undefined} contentType
 */
export function describeType(contentType) {
  const type = mediaType(contentType);
  const [major = '', minor = ''] = type.split('/');
  const sub = minor.replace(/^x-/, '').replace(/\+.*$/, '');
  if ((major === 'image' || major === 'audio' || major === 'video') && sub !== '') {
    const labels = new Map(Object.entries({ jpeg: 'JPEG', mpeg: major === 'audio' ? 'MP3' : 'MPEG', 'svg': 'SVG', wav: 'WAV', png: 'PNG', gif: 'GIF', webp: 'WebP', mp4: 'MP4', ogg: 'Ogg', webm: 'WebM', tiff: 'TIFF' }));
    return `${labels.get(sub) ?? sub.toUpperCase()} ${major}`;
  }
  if (type === 'application/pdf') return 'PDF';
  return type || 'unknown';
}

/** @param {string | null | undefined} contentType @returns {'image' | 'audio' | 'video' | null} what a browser can preview */
export function previewKind(contentType) {
  const type = mediaType(contentType);
  // SVG is served as an attachment (it can carry script), so it has no inline preview.
  if (type.startsWith('image/') && type !== 'image/svg+xml') return 'image';
  if (type.startsWith('audio/')) return 'audio';
  if (type.startsWith('video/')) return 'video';
  return null;
}

/**
 * "image/png" of "image/PNG; charset=x".
 * @param {string | null | undefined} contentType
 */
export function mediaType(contentType) {
  return (String(contentType ?? '').split(';')[0] ?? '').trim().toLowerCase();
}

/** @param {string} sid "ME0123…cdef" shortened for narrow places */
export function shortSid(sid) {
  return sid.length > 14 ? `${sid.slice(0, 8)}…${sid.slice(-4)}` : sid;
}

/**
 * What an event means, in words.
 * @param {AccountEvent} event
 * @returns {{title: string, detail: string}}
 */
export function describeEvent(event) {
  /** @type {AccountEvent['detail']} */
  const d = event.detail && typeof event.detail === 'object' ? event.detail : {};
  const kind = typeof d.kind === 'string' ? kindName(d.kind).toLowerCase() : 'media';
  switch (event.type) {
    case 'api_key.created':
      return { title: 'API key created', detail: [d.name, d.key_sid].filter(Boolean).join(' · ') };
    case 'api_key.deleted':
      return { title: 'API key deleted', detail: String(d.key_sid ?? '') };
    case 'application.created':
      return { title: 'Application registered', detail: [d.name, d.application_id, d.algorithm].filter(Boolean).join(' · ') };
    case 'application.deleted':
      return { title: 'Application deleted', detail: String(d.application_id ?? '') };
    case 'media_protection.changed':
      return { title: `Protection of ${kind} media turned ${d.enabled ? 'on' : 'off'}`, detail: '' };
    case 'media_protection.protected_existing':
      return {
        title: `Existing ${kind} media protected`,
        detail: typeof d.protected === 'number' ? `${formatCount(d.protected)} media changed` : '',
      };
    case 'retention.changed':
      return {
        title: 'Retention changed',
        detail: d.days === null || d.days === undefined ? 'Keep media until it is deleted' : `Delete media after ${d.days} days`,
      };
    case 'auth_token.secondary_created':
      return { title: 'Secondary auth token created', detail: '' };
    case 'auth_token.promoted':
      return { title: 'Secondary auth token promoted to primary', detail: 'The previous primary token stopped working' };
    case 'auth_token.secondary_deleted':
      return { title: 'Secondary auth token deleted', detail: '' };
    default:
      return { title: humanizeType(event.type), detail: Object.keys(d).length > 0 ? JSON.stringify(d) : '' };
  }
}

/**
 * "console_session.created" → "Console session created"
 * @param {string} type
 */
function humanizeType(type) {
  const words = String(type).replace(/[._]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
