/**
 * The account table behind one small interface. Emails are compared and stored lower-cased and trimmed, so
 * "Ada.Park@Example.com" and "ada.park@example.com" are one login; the unique index enforces it even when two
 * registrations race.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { AccountTable, Tables } from '../db/tables';
import type { Clock } from '../fhir/clock';

/** One account row as read. */
export type Account = Selectable<AccountTable>;

/** What a new account is made of. */
export interface NewAccount {
  readonly email: string;
  readonly kind: Account['kind'];
  readonly displayName: string;
  readonly patientId?: string | null;
  readonly practitionerId?: string | null;
  readonly organizationId?: string | null;
  /** Null or absent: the account cannot sign in until a password is set (pending enrollment). */
  readonly passwordHash?: string | null;
  readonly securityQuestion?: string | null;
  readonly securityAnswerHash?: string | null;
}

/** The longest email accepted (RFC 5321 path limit). */
export const MAX_EMAIL_LENGTH = 254;
const EMAIL = /^[^\s@<>",;:()[\]\\]+@[^\s@<>",;:()[\]\\]+\.[^\s@<>",;:()[\]\\]+$/;

/** The stored form of an email: trimmed, lower case. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** True for one plain address (no display name, no list) within the length limit. */
export function isValidEmail(email: string): boolean {
  const normalized = normalizeEmail(email);
  return normalized.length <= MAX_EMAIL_LENGTH && EMAIL.test(normalized);
}

/** Reads and writes accounts; every method works inside a transaction when given a transaction handle. */
export class AccountStore {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: Clock,
  ) {}

  /** The same store over another handle (a transaction). */
  withDb(db: Kysely<Tables>): AccountStore {
    return new AccountStore(db, this.clock);
  }

  /** The account with this id, if any. */
  async findById(id: string): Promise<Account | undefined> {
    return this.db.selectFrom('account').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The account that signs in with this email, if any. */
  async findByEmail(email: string): Promise<Account | undefined> {
    return this.db.selectFrom('account').selectAll().where('email', '=', normalizeEmail(email)).executeTakeFirst();
  }

  /** The patient's own account (kind patient), if they have one. */
  async findByPatientId(patientId: string): Promise<Account | undefined> {
    return this.db
      .selectFrom('account')
      .selectAll()
      .where('patient_id', '=', patientId)
      .where('kind', '=', 'patient')
      .orderBy('created_at')
      .executeTakeFirst();
  }

  /** True when some account already signs in with this email. */
  async emailTaken(email: string): Promise<boolean> {
    const row = await this.db.selectFrom('account').select('id').where('email', '=', normalizeEmail(email)).executeTakeFirst();
    return row !== undefined;
  }

  /** Inserts a new account; a duplicate email fails on the unique index (see `isUniqueViolation`). */
  async create(input: NewAccount): Promise<Account> {
    const now = this.clock.now();
    const row = {
      id: randomUUID(),
      email: normalizeEmail(input.email),
      password_hash: input.passwordHash ?? null,
      kind: input.kind,
      patient_id: input.patientId ?? null,
      practitioner_id: input.practitionerId ?? null,
      organization_id: input.organizationId ?? null,
      display_name: input.displayName,
      security_question: input.securityQuestion ?? null,
      security_answer_hash: input.securityAnswerHash ?? null,
      disabled_at: null,
      created_at: now,
      updated_at: now,
    };
    await this.db.insertInto('account').values(row).execute();
    return row;
  }

  /** Sets a new password hash. */
  async setPassword(id: string, passwordHash: string): Promise<void> {
    await this.db.updateTable('account').set({ password_hash: passwordHash, updated_at: this.clock.now() }).where('id', '=', id).execute();
  }

  /** Sets (or replaces) the security question and the hash of its answer. */
  async setSecurityOption(id: string, question: string, answerHash: string): Promise<void> {
    await this.db
      .updateTable('account')
      .set({ security_question: question, security_answer_hash: answerHash, updated_at: this.clock.now() })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Gives an existing account a new login: email, password and (optionally) security option, enabled again.
   * Re-enrollment uses this so the account id, and with it the record's history, stays the same.
   */
  async replaceCredentials(
    id: string,
    input: { email: string; passwordHash: string; securityQuestion?: string | null; securityAnswerHash?: string | null },
  ): Promise<void> {
    await this.db
      .updateTable('account')
      .set({
        email: normalizeEmail(input.email),
        password_hash: input.passwordHash,
        security_question: input.securityQuestion ?? null,
        security_answer_hash: input.securityAnswerHash ?? null,
        disabled_at: null,
        updated_at: this.clock.now(),
      })
      .where('id', '=', id)
      .execute();
  }
}

/** True when a database error is a unique-constraint violation (two accounts, one email). */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === '23505';
}
