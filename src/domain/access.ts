import type { Principal } from './principal.js';
import { DomainError, Forbidden, InvalidCredentials, MediaNotFound } from './errors.js';
import type { Media } from './media-model.js';

/**
 * Who may read a media item: the contract's decision order for the media URL, steps 2
 * to 5 (step 1, a bad Authorization header, is the authenticator's). Written once, here:
 * the full path asks before and after its lookup, the redirect's fast path asks with
 * everything in memory, and both get the same answer from the same rules.
 */
export type AccessRefusal = 'other_account' | 'not_found' | 'credentials_required' | 'other_application';

/** Step 2, before any lookup: valid credentials of another account. */
export function refusalBeforeLookup(principal: Principal | undefined, accountSid: string): AccessRefusal | undefined {
  return principal && principal.accountSid !== accountSid ? 'other_account' : undefined;
}

/** Steps 3 to 5: no such media; protected media without credentials; media bound to another application. */
export function refusalOfMedia(principal: Principal | undefined, media: Pick<Media, 'requiresAuth' | 'applicationId'> | undefined): AccessRefusal | undefined {
  if (!media) return 'not_found';
  if (media.requiresAuth && !principal) return 'credentials_required';
  if (principal?.type === 'application' && media.applicationId !== null && principal.credentialSid !== media.applicationId) {
    return 'other_application';
  }
  return undefined;
}

/** The whole decision, for inputs all at hand; undefined: allowed. */
export function decideMediaAccess(
  principal: Principal | undefined,
  accountSid: string,
  media: Pick<Media, 'requiresAuth' | 'applicationId'> | undefined,
): AccessRefusal | undefined {
  return refusalBeforeLookup(principal, accountSid) ?? refusalOfMedia(principal, media);
}

const REFUSALS: Record<AccessRefusal, () => DomainError> = {
  other_account: () => new Forbidden('these credentials belong to another account'),
  not_found: () => new MediaNotFound(),
  credentials_required: () => new InvalidCredentials('this media requires credentials'),
  other_application: () => new Forbidden('this media belongs to another application'),
};

/** Throws the refusal's error, if there is one. */
export function enforce(refusal: AccessRefusal | undefined): void {
  if (refusal) throw REFUSALS[refusal]();
}

/** 403 for valid credentials of another account, decided before any lookup (every /v1/accounts route). */
export function assertSameAccount(principal: Principal, accountSid: string): void {
  enforce(refusalBeforeLookup(principal, accountSid));
}
