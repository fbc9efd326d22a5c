import { randomBytes } from 'node:crypto';

// Identifiers are a two-letter prefix and 128 random bits as lowercase hex: unguessable,
// never sequential (the contract's table of identifiers).
const SID = /^(AC|SK|ME|SL|UP)[0-9a-f]{32}$/;

export type SidPrefix = 'AC' | 'SK' | 'ME' | 'SL' | 'UP';

export function newSid(prefix: SidPrefix): string {
  return prefix + randomBytes(16).toString('hex');
}

/** A 128-bit secret (auth token or key secret), 32 lowercase hex characters. */
export function newSecret(): string {
  return randomBytes(16).toString('hex');
}

/** A capability token for a URL: 256 random bits, base64url (43 characters). */
export function newUrlToken(): string {
  return randomBytes(32).toString('base64url');
}

export function isSid(value: string, prefix: SidPrefix): boolean {
  return value.length === 34 && value.startsWith(prefix) && SID.test(value);
}

// Application ids are UUIDs (as Vonage's are), compared in lowercase.
const APPLICATION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The application id in its stored (lowercase) form, or undefined when it is not one. */
export function normalizeApplicationId(value: string): string | undefined {
  const id = value.toLowerCase();
  return APPLICATION_ID.test(id) ? id : undefined;
}
