/**
 * The account behind a FHIR caller, for operations that act as an account holder ($invite-family,
 * $request-access) or as staff ($enroll, $legal-authorization, $reset-token). Tokens of accounts carry the
 * account id as `sub`; the caller's subject may also be written `Account/<id>`.
 */
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables';
import type { Caller } from '../access/caller';
import { forbidden, unauthorized } from '../fhir/outcomes';
import { type Account, AccountStore } from './account-store';
import { systemClock } from '../fhir/clock';

/** The account id a caller's subject names (bare id, `account:<id>` as caller-scope.ts writes it, or `Account/<id>`). */
export function accountIdOfCaller(caller: Caller): string {
  return caller.subject.replace(/^account[/:]/i, '');
}

/** The signed-in portal account (patient or family member) behind a user caller; 403 for anyone else. */
export async function portalAccountOf(db: Kysely<Tables>, caller: Caller): Promise<Account> {
  if (caller.kind !== 'user') throw forbidden('This operation is for a signed-in patient or family member');
  const account = await new AccountStore(db, systemClock).findById(accountIdOfCaller(caller));
  if (!account || account.disabled_at || account.kind === 'staff') throw unauthorized('This session has ended. Sign in again.');
  return account;
}

/**
 * The staff account behind a staff caller, or undefined for staff tokens that are not accounts (the CLI's
 * `token --staff`). Non-staff callers get 403.
 */
export async function staffAccountOf(db: Kysely<Tables>, caller: Caller): Promise<Account | undefined> {
  if (caller.kind !== 'staff' && caller.kind !== 'system') throw forbidden('This operation is for practice staff');
  const account = await new AccountStore(db, systemClock).findById(accountIdOfCaller(caller));
  if (account && (account.kind !== 'staff' || account.disabled_at)) throw forbidden('This operation is for practice staff');
  return account;
}
