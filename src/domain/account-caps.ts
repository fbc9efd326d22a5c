import type { Queryable } from '../db/pool.js';
import { lockAccount } from '../db/queries/account-lock.js';
import { Conflict, NotFound } from './errors.js';

/** A kind of thing an account holds a limited number of (config.ts, limits). */
export interface Cap {
  /** plural, for the message: "API keys" */
  what: string;
  /** the setting that raises it */
  setting: string;
  max: number;
  count(tx: Queryable, accountSid: string): Promise<number>;
}

/**
 * Inside the transaction that will create one more: holds the account's lock until the
 * commit (racing creations queue behind it), then refuses with 409 when the account
 * already holds the most it may.
 */
export async function assertRoomForOneMore(tx: Queryable, accountSid: string, cap: Cap): Promise<void> {
  if (!(await lockAccount(tx, accountSid))) throw new NotFound('no such account');
  const held = await cap.count(tx, accountSid);
  if (held >= cap.max) {
    throw new Conflict(`the account holds ${held} ${cap.what}, the most it may (${cap.setting}=${cap.max}); delete one first`);
  }
}
