/**
 * The `one_time_secret` table: passcodes, invitations, enrollment links, reset links and verification
 * sessions, each stored as a SHA-256 of the secret. Redemption is two steps on purpose: `check` counts a wrong
 * guess in its own statement (so it sticks even when the request then fails), and `markUsed` claims the
 * secret inside the transaction that does the work (0 rows = someone else used it first).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { OneTimeSecretTable, Tables } from '../db/tables';
import type { Clock } from '../fhir/clock';
import { FhirError, unauthorized } from '../fhir/outcomes';
import { checkOneTimeSecret, hashOneTimeSecret } from './one-time-secret';

/** What each secret is for. */
export type SecretPurpose =
  | 'family-passcode'
  | 'family-invitation'
  | 'enrollment'
  | 'password-reset'
  | 'staff-reset'
  | 'reset-verification'
  | 'registration'
  | 'practice-token';

/** A stored secret row. */
export type SecretRow = Selectable<OneTimeSecretTable>;

/** A new secret to store. */
export interface NewSecret {
  readonly purpose: SecretPurpose;
  /** The secret as the person will present it (already normalized for typed codes). */
  readonly secret: string;
  readonly ttlMs: number;
  readonly accountId?: string | null;
  readonly patientId?: string | null;
  readonly email?: string | null;
  readonly payload?: Record<string, unknown>;
}

/** 410: a secret that was valid but is used, expired or locked; the message says which and what to do. */
export function secretGone(text: string): FhirError {
  return new FhirError(410, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'expired', details: { text } }] });
}

/** Reads and writes one-time secrets. */
export class SecretStore {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: Clock,
  ) {}

  /** The same store over another handle (a transaction). */
  withDb(db: Kysely<Tables>): SecretStore {
    return new SecretStore(db, this.clock);
  }

  /** Stores a secret; returns its row. */
  async issue(input: NewSecret): Promise<SecretRow> {
    const now = this.clock.now();
    const row: SecretRow = {
      id: randomUUID(),
      purpose: input.purpose,
      secret_hash: hashOneTimeSecret(input.secret),
      account_id: input.accountId ?? null,
      patient_id: input.patientId ?? null,
      email: input.email ?? null,
      payload: JSON.stringify(input.payload ?? {}),
      expires_at: new Date(now.getTime() + input.ttlMs),
      used_at: null,
      failed_attempts: 0,
      created_at: now,
    };
    await this.db.insertInto('one_time_secret').values(row).execute();
    return row;
  }

  /** The secret of this purpose whose hash matches a presented link token (tokens are unguessable, so a hash lookup is safe). */
  async findByToken(purpose: SecretPurpose, token: string): Promise<SecretRow | undefined> {
    return this.db
      .selectFrom('one_time_secret')
      .selectAll()
      .where('secret_hash', '=', hashOneTimeSecret(token))
      .where('purpose', '=', purpose)
      .executeTakeFirst();
  }

  /** The secret with this id and purpose. */
  async findById(purpose: SecretPurpose, id: string): Promise<SecretRow | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
    return this.db.selectFrom('one_time_secret').selectAll().where('id', '=', id).where('purpose', '=', purpose).executeTakeFirst();
  }

  /** The newest unused secret of a purpose for an account (staff reset tokens are looked up by email + token). */
  async latestForAccount(purpose: SecretPurpose, accountId: string): Promise<SecretRow | undefined> {
    return this.db
      .selectFrom('one_time_secret')
      .selectAll()
      .where('purpose', '=', purpose)
      .where('account_id', '=', accountId)
      .where('used_at', 'is', null)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
  }

  /**
   * Checks a presented typed secret (passcode, code) against the row's hash. A wrong guess is counted at once;
   * the error says how many tries are left. `label` names the secret in messages.
   */
  async check(row: SecretRow, presented: string, maxAttempts: number, label: string): Promise<void> {
    const outcome = checkOneTimeSecret(
      {
        hash: row.secret_hash,
        expiresAt: new Date(row.expires_at),
        usedAt: row.used_at ? new Date(row.used_at) : null,
        failedAttempts: row.failed_attempts,
      },
      presented,
      this.clock.now(),
      maxAttempts,
    );
    if (outcome.ok) return;
    switch (outcome.reason) {
      case 'used':
        throw secretGone(`This ${label} has already been used.`);
      case 'expired':
        throw secretGone(`This ${label} has expired.`);
      case 'too-many-attempts':
        throw secretGone(`This ${label} is locked after ${maxAttempts} wrong tries.`);
      case 'mismatch':
        return this.rejectGuess(row, maxAttempts, label);
    }
  }

  /** Throws 410 when the row is used, expired or locked (before checking something other than its own hash). */
  assertOpen(row: SecretRow, maxAttempts: number, label: string): void {
    if (row.used_at) throw secretGone(`This ${label} has already been used.`);
    if (this.clock.now().getTime() >= new Date(row.expires_at).getTime()) throw secretGone(`This ${label} has expired.`);
    if (row.failed_attempts >= maxAttempts) throw secretGone(`This ${label} is locked after ${maxAttempts} wrong tries.`);
  }

  /** Counts a wrong guess against the row and throws 401 saying how many tries are left. */
  async rejectGuess(row: SecretRow, maxAttempts: number, label: string): Promise<never> {
    const failed = await this.countFailure(row.id);
    const left = Math.max(maxAttempts - failed, 0);
    throw unauthorized(
      left > 0
        ? `The ${label} is not correct. ${left} ${left === 1 ? 'try' : 'tries'} left.`
        : `The ${label} is not correct, and it is now locked after ${maxAttempts} wrong tries.`,
    );
  }

  /** Throws 410 unless the row is unused and unexpired (for link tokens already matched by hash). */
  assertUsable(row: SecretRow | undefined, label: string): asserts row is SecretRow {
    if (!row) throw unknownSecret(label);
    if (row.used_at) throw secretGone(`This ${label} has already been used.`);
    if (this.clock.now().getTime() >= new Date(row.expires_at).getTime()) throw secretGone(`This ${label} has expired.`);
  }

  /** Claims the secret for this request; false when another request used it first. */
  async markUsed(id: string): Promise<boolean> {
    const result = await this.db
      .updateTable('one_time_secret')
      .set({ used_at: this.clock.now() })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Marks every unused secret of a purpose for a patient (or account) used: a new invitation supersedes the old. */
  async supersede(purpose: SecretPurpose, where: { patientId?: string; accountId?: string }): Promise<void> {
    let query = this.db
      .updateTable('one_time_secret')
      .set({ used_at: this.clock.now() })
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null);
    if (where.patientId) query = query.where('patient_id', '=', where.patientId);
    if (where.accountId) query = query.where('account_id', '=', where.accountId);
    await query.execute();
  }

  /** Deletes secrets that expired, or were used, before `before`; returns how many. */
  async purge(before: Date): Promise<number> {
    const result = await this.db
      .deleteFrom('one_time_secret')
      .where((eb) => eb.or([eb('expires_at', '<', before), eb('used_at', '<', before)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows ?? 0);
  }

  private async countFailure(id: string): Promise<number> {
    const row = await this.db
      .updateTable('one_time_secret')
      .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
      .where('id', '=', id)
      .returning('failed_attempts')
      .executeTakeFirst();
    return row?.failed_attempts ?? 0;
  }
}

/** The payload of a row as an object. */
export function payloadOf<T extends object>(row: SecretRow): T {
  return JSON.parse(row.payload) as T;
}

/** 404 for a token that matches nothing (never issued, or purged long after it expired). */
export function unknownSecret(label: string): FhirError {
  const text = `This ${label} is not valid. Check that you used the whole link or code from the email.`;
  return new FhirError(404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', details: { text } }] });
}
