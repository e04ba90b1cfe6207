/**
 * Password reset, as both guides describe it. "Forgot password" answers the same, in about the same time,
 * whether or not the email has an account; the emailed link is single-use and short-lived; the new password is
 * entered twice; then the holder verifies their identity with their security option (the security question,
 * or a one-time code by email) before the password changes. A reset token that staff read out on the phone
 * (after checking identity themselves) sets the password directly.
 */
import type { Kysely } from 'kysely';
import type { Patient } from '@medplum/fhirtypes';
import type { Tables } from '../db/tables';
import { badRequest, conflict, notFound, unauthorized } from '../fhir/outcomes';
import { passwordResetEmail } from '../mail/templates/password-reset-email';
import { verificationCodeEmail } from '../mail/templates/verification-code-email';
import { inBackground, organizationNameOf, serviceLink, systemRepository } from './account-context';
import { newPassword, readFields, requiredEmail, requiredSecret, securityOptionFields } from './account-input';
import { sendAccountMail } from './account-mail';
import { payloadOf, unknownSecret } from './account-secrets';
import { securityAnswerHash, securityAnswerMatches } from './account-security-answer';
import { type Account } from './account-store';
import {
  generateNumericCode,
  generatePasscode,
  generateToken,
  hashOneTimeSecret,
  normalizeTypedCode,
  ONE_TIME_SECRET_DEFAULTS,
  oneTimeSecretMatches,
} from './one-time-secret';
import { hashPassword, verifyPassword, verifyPasswordAgainstNobody } from './password-hash';
import { addressThrottleKey, emailThrottleKey, type SignInResult } from './session-service';
import { ThrottleStore } from './throttle-store';
import { AccountService } from './account-service';

/** The one answer "forgot password" ever gives. */
export const FORGOT_PASSWORD_ANSWER =
  'If an account uses this email address, we sent it a link to reset the password. The link works once and expires in 30 minutes. Check your junk mail folder too.';

/**
 * "Forgot password" never answers sooner than this after the request arrived: the account case does more work
 * (a transaction, a read) than the no-account case, and without a floor the difference (tens of ms on
 * PostgreSQL) would tell which emails have accounts. Wall time on purpose, not the injected clock.
 */
export const FORGOT_PASSWORD_MIN_MS = 250;

/** What the client needs for the identity check after choosing a new password. */
export interface IdentityChallenge {
  readonly verificationToken: string;
  readonly method: 'security-question' | 'email-code';
  /** The account's security question (method security-question). */
  readonly securityQuestion?: string;
  readonly expiresAt: string;
}

/** What staff read out to the patient. */
export interface StaffResetToken {
  readonly resetToken: string;
  readonly email: string;
  readonly expiresAt: string;
}

interface VerificationPayload {
  readonly passwordHash: string;
  readonly method: IdentityChallenge['method'];
  /** SHA-256 of the emailed code (method email-code). */
  readonly codeHash?: string;
}

/** Password reset by emailed link or staff token, with identity verification. */
export class PasswordResetService extends AccountService {
  /**
   * "Forgot password": always the same answer, never sooner than FORGOT_PASSWORD_MIN_MS. The account lookup, the
   * link and the mail happen in the background, so the response time depends neither on the account nor on the mail server.
   */
  async forgot(body: unknown, address: string): Promise<{ message: string }> {
    const started = performance.now();
    try {
      return await this.requestResetLink(body, address);
    } finally {
      const wait = FORGOT_PASSWORD_MIN_MS - (performance.now() - started);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  private async requestResetLink(body: unknown, address: string): Promise<{ message: string }> {
    const fields = readFields(body, ['email']);
    const email = requiredEmail(fields);
    await this.throttle.consume(
      [
        { key: addressThrottleKey('reset', address), policy: this.context.throttles.requestAddress },
        { key: emailThrottleKey('reset', email), policy: this.context.throttles.requestAccount },
      ],
      'password reset requests',
    );
    // Everything that depends on whether the email has an account happens after the answer, so the answer's
    // timing cannot tell (the floor in forgot() only has to cover validation and the throttle, the same work for both).
    inBackground(this.context, 'password reset link', () => this.sendResetLink(email));
    return { message: FORGOT_PASSWORD_ANSWER };
  }

  /** Stores a reset link for the account using this email, if there is one, and mails it. */
  private async sendResetLink(email: string): Promise<void> {
    const account = await this.accounts.findByEmail(email);
    if (!account || account.disabled_at || !account.password_hash) return;
    const token = generateToken();
    const row = await this.context.db.transaction().execute(async (trx) => {
      const secrets = this.secrets.withDb(trx);
      await secrets.supersede('password-reset', { accountId: account.id });
      return secrets.issue({
        purpose: 'password-reset',
        secret: token,
        ttlMs: ONE_TIME_SECRET_DEFAULTS.passwordResetLink.ttlMs,
        accountId: account.id,
        email: account.email,
      });
    });
    const organizationName = await this.organizationNameFor(account);
    await sendAccountMail(
      this.context,
      account.email,
      passwordResetEmail({
        organizationName,
        resetUrl: serviceLink(this.context, 'resetPassword', { token }),
        expiresAt: new Date(row.expires_at),
        timeZone: this.context.timeZone,
      }),
    );
  }

  /** Whether a reset link is still usable (GET on the link). */
  async describeLink(token: string): Promise<{ expiresAt: string }> {
    const row = await this.secrets.findByToken('password-reset', token);
    this.secrets.assertUsable(row, 'reset link');
    return { expiresAt: new Date(row.expires_at).toISOString() };
  }

  /**
   * The new password, entered twice, with either the emailed link's `token` (answers with the identity
   * challenge) or `email` + staff `resetToken` (sets the password and signs in).
   */
  async reset(body: unknown, address: string): Promise<{ challenge: IdentityChallenge } | { session: SignInResult }> {
    const fields = readFields(body, ['token', 'email', 'resetToken', 'password', 'passwordConfirmation']);
    if (fields.resetToken !== undefined) return { session: await this.resetWithStaffToken(fields, address) };
    const token = requiredSecret(fields, 'token');
    const row = await this.secrets.findByToken('password-reset', token);
    this.secrets.assertUsable(row, 'reset link');
    const account = await this.accounts.findById(row.account_id as string);
    if (!account || account.disabled_at) throw unknownSecret('reset link');
    const passwordHash = await hashPassword(newPassword(fields, { email: account.email }), this.context.passwordParams);
    const method: IdentityChallenge['method'] = account.security_answer_hash ? 'security-question' : 'email-code';
    const verificationToken = generateToken();
    const code = method === 'email-code' ? generateNumericCode() : undefined;
    const payload: VerificationPayload = { passwordHash, method, ...(code ? { codeHash: hashOneTimeSecret(code) } : {}) };
    // Read before the transaction: on PGlite the transaction holds the only connection.
    const organizationName = await this.organizationNameFor(account);
    return this.context.db.transaction().execute(async (trx) => {
      const secrets = this.secrets.withDb(trx);
      if (!(await secrets.markUsed(row.id))) throw conflict('This reset link has just been used.');
      const verification = await secrets.issue({
        purpose: 'reset-verification',
        secret: verificationToken,
        ttlMs: ONE_TIME_SECRET_DEFAULTS.verificationCode.ttlMs,
        accountId: account.id,
        email: account.email,
        payload: { ...payload },
      });
      const expiresAt = new Date(verification.expires_at);
      if (code) {
        await sendAccountMail(
          this.context,
          account.email,
          verificationCodeEmail({ organizationName, code, expiresAt, timeZone: this.context.timeZone }),
        );
      }
      return {
        challenge: {
          verificationToken,
          method,
          ...(method === 'security-question' ? { securityQuestion: account.security_question as string } : {}),
          expiresAt: expiresAt.toISOString(),
        },
      };
    });
  }

  /** The identity check: the security answer or the emailed code. Success sets the new password and signs in. */
  async verify(body: unknown, address: string): Promise<SignInResult> {
    const fields = readFields(body, ['verificationToken', 'answer', 'code']);
    const token = requiredSecret(fields, 'verificationToken');
    await this.throttle.consume(
      [{ key: addressThrottleKey('verify', address), policy: this.context.throttles.requestAddress }],
      'verification attempts',
    );
    const row = await this.secrets.findByToken('reset-verification', token);
    if (!row) throw unknownSecret('verification');
    const { maxAttempts } = ONE_TIME_SECRET_DEFAULTS.verificationCode;
    this.secrets.assertOpen(row, maxAttempts, 'verification');
    const payload = payloadOf<VerificationPayload>(row);
    const account = await this.accounts.findById(row.account_id as string);
    if (!account || account.disabled_at) throw unknownSecret('verification');
    if (payload.method === 'security-question') {
      const answer = requiredSecret(fields, 'answer', 200);
      if (!account.security_answer_hash || !(await securityAnswerMatches(answer, account.security_answer_hash))) {
        await this.secrets.rejectGuess(row, maxAttempts, 'security answer');
      }
    } else {
      const code = requiredSecret(fields, 'code', 20);
      if (!payload.codeHash || !oneTimeSecretMatches(normalizeTypedCode(code), payload.codeHash)) {
        await this.secrets.rejectGuess(row, maxAttempts, 'verification code');
      }
    }
    return this.context.db.transaction().execute(async (trx) => {
      if (!(await this.secrets.withDb(trx).markUsed(row.id))) throw conflict('This verification has just been used.');
      return this.setPassword(trx, account, payload.passwordHash);
    });
  }

  /** Staff issue a one-time reset token for the patient's own login (read out after checking identity). */
  async issueStaffResetToken(patient: Patient): Promise<StaffResetToken> {
    const account = await this.accounts.findByPatientId(patient.id as string);
    if (!account || account.disabled_at) throw notFound('Portal account of this patient');
    const resetToken = generatePasscode();
    const row = await this.context.db.transaction().execute(async (trx) => {
      const secrets = this.secrets.withDb(trx);
      await secrets.supersede('staff-reset', { accountId: account.id });
      return secrets.issue({
        purpose: 'staff-reset',
        secret: normalizeTypedCode(resetToken),
        ttlMs: ONE_TIME_SECRET_DEFAULTS.staffResetToken.ttlMs,
        accountId: account.id,
        email: account.email,
      });
    });
    return { resetToken, email: account.email, expiresAt: new Date(row.expires_at).toISOString() };
  }

  /** Sets or replaces the security question of a signed-in account; the current password confirms it. */
  async setSecurityOption(account: Account, body: unknown): Promise<void> {
    const fields = readFields(body, ['currentPassword', 'securityQuestion', 'securityAnswer']);
    const current = requiredSecret(fields, 'currentPassword', 1024);
    const security = securityOptionFields(fields);
    if (!security) throw badRequest('securityQuestion and securityAnswer are required', 'securityQuestion');
    if (!account.password_hash || !(await verifyPassword(current, account.password_hash)))
      throw unauthorized('The current password is not correct.');
    await this.accounts.setSecurityOption(
      account.id,
      security.question,
      await securityAnswerHash(security.answer, this.context.passwordParams),
    );
  }

  private async resetWithStaffToken(fields: Record<string, unknown>, address: string): Promise<SignInResult> {
    const email = requiredEmail(fields);
    const resetToken = requiredSecret(fields, 'resetToken', 64);
    await this.throttle.consume(
      [
        { key: addressThrottleKey('reset-token', address), policy: this.context.throttles.requestAddress },
        { key: emailThrottleKey('reset-token', email), policy: this.context.throttles.requestAccount },
      ],
      'reset token attempts',
    );
    const account = await this.accounts.findByEmail(email);
    const row = account && !account.disabled_at ? await this.secrets.latestForAccount('staff-reset', account.id) : undefined;
    if (!account || !row) {
      await verifyPasswordAgainstNobody(resetToken, this.context.passwordParams);
      throw unauthorized('The email or reset token is not correct.');
    }
    const password = newPassword(fields, { email: account.email });
    await this.secrets.check(row, normalizeTypedCode(resetToken), ONE_TIME_SECRET_DEFAULTS.staffResetToken.maxAttempts, 'reset token');
    const passwordHash = await hashPassword(password, this.context.passwordParams);
    return this.context.db.transaction().execute(async (trx) => {
      if (!(await this.secrets.withDb(trx).markUsed(row.id))) throw conflict('This reset token has just been used.');
      return this.setPassword(trx, account, passwordHash);
    });
  }

  /** Sets the password, ends every other session and outstanding reset, unlocks sign-in, and signs in. */
  private async setPassword(trx: Kysely<Tables>, account: Account, passwordHash: string): Promise<SignInResult> {
    await this.accounts.withDb(trx).setPassword(account.id, passwordHash);
    await this.sessions.revokeAll(account.id, trx);
    const secrets = this.secrets.withDb(trx);
    await secrets.supersede('password-reset', { accountId: account.id });
    await secrets.supersede('staff-reset', { accountId: account.id });
    await secrets.supersede('reset-verification', { accountId: account.id });
    await new ThrottleStore(trx, this.context.clock).clear(emailThrottleKey('login', account.email));
    return this.sessions.startSession({ ...account, password_hash: passwordHash }, trx);
  }

  private async organizationNameFor(account: Account): Promise<string> {
    if (!account.patient_id) return organizationNameOf(undefined);
    const patient = await systemRepository(this.context)
      .read<Patient>('Patient', account.patient_id)
      .catch(() => undefined);
    return organizationNameOf(patient);
  }
}
