/**
 * Staff enrollment (the Westchester FAQ): staff send a patient an invitation valid for 30 days; following it,
 * the patient chooses a login email and password. Re-enrolling a patient who already had a login gives new
 * credentials over the same account, so the record and the portal history stay; the old login stops working.
 */
import type { Patient } from '@medplum/fhirtypes';
import { canHaveOwnAccount } from '../../access/age-policy';
import { badRequest, conflict } from '../../fhir/outcomes';
import { enrollmentInvitationEmail } from '../../mail/templates/enrollment-invitation-email';
import {
  organizationNameOf,
  patientDisplayName,
  patientFirstName,
  serviceLink,
  systemRepository,
  todayOf,
} from '../../auth/account-context';
import { definedOnly, newPassword, optionalEmail, readFields, requiredSecret, securityOptionFields } from '../../auth/account-input';
import { sendAccountMail } from '../../auth/account-mail';
import { emailAlreadyUsed, underMinimumAge } from '../../auth/account-messages';
import { patientEmailOnFile } from '../../auth/account-patients';
import { securityAnswerHash } from '../../auth/account-security-answer';
import { isUniqueViolation } from '../../auth/account-store';
import { generateToken, ONE_TIME_SECRET_DEFAULTS } from '../../auth/one-time-secret';
import { hashPassword } from '../../auth/password-hash';
import type { SignInResult } from '../../auth/session-service';
import { AccountService } from '../../auth/account-service';
import { queueLoginEmailChanged } from '../requests/email-change-notice';

/** What staff are told after sending an enrollment invitation. */
export interface EnrollmentReceipt {
  readonly invitationId: string;
  readonly email: string;
  readonly expiresAt: string;
  readonly reenrollment: boolean;
}

interface EnrollmentPayload {
  readonly reenrollment: boolean;
}

/** Enrollment invitations and their acceptance. */
export class EnrollmentService extends AccountService {
  /**
   * Sends an enrollment invitation to `email` (default: the email on the patient's record). `patient` was read
   * through the staff caller's repository, so staff only enroll patients they can see. A newer invitation
   * replaces older unused ones.
   */
  async enroll(patient: Patient, params: Record<string, string | undefined>): Promise<EnrollmentReceipt> {
    const fields = readFields(definedOnly(params), ['email']);
    const patientId = patient.id as string;
    if (!canHaveOwnAccount(patient.birthDate, todayOf(this.context), this.context.policy)) throw underMinimumAge(this.context.policy);
    const email = optionalEmail(fields, 'email') ?? patientEmailOnFile(patient);
    if (!email) throw badRequest('The patient has no email on file: give the email to send the invitation to', 'email');
    const own = await this.accounts.findByPatientId(patientId);
    const holder = await this.accounts.findByEmail(email);
    if (holder && holder.id !== own?.id) throw emailAlreadyUsed();
    const token = generateToken();
    const payload: EnrollmentPayload = { reenrollment: own !== undefined };
    return this.context.db.transaction().execute(async (trx) => {
      const secrets = this.secrets.withDb(trx);
      await secrets.supersede('enrollment', { patientId });
      const row = await secrets.issue({
        purpose: 'enrollment',
        secret: token,
        ttlMs: ONE_TIME_SECRET_DEFAULTS.invitation.ttlMs,
        patientId,
        email,
        payload: { ...payload },
      });
      const expiresAt = new Date(row.expires_at);
      await sendAccountMail(
        this.context,
        email,
        enrollmentInvitationEmail({
          organizationName: organizationNameOf(patient),
          patientFirstName: patientFirstName(patient),
          enrollUrl: serviceLink(this.context, 'acceptEnrollment', { token }),
          expiresAt,
          timeZone: this.context.timeZone,
          reenrollment: payload.reenrollment,
        }),
      );
      return { invitationId: row.id, email, expiresAt: expiresAt.toISOString(), reenrollment: payload.reenrollment };
    });
  }

  /** Describes an enrollment link without using it (GET). */
  async describe(token: string): Promise<{ email: string; expiresAt: string; reenrollment: boolean }> {
    const row = await this.secrets.findByToken('enrollment', token);
    this.secrets.assertUsable(row, 'enrollment invitation');
    const payload = JSON.parse(row.payload) as EnrollmentPayload;
    return { email: row.email as string, expiresAt: new Date(row.expires_at).toISOString(), reenrollment: payload.reenrollment };
  }

  /**
   * Accepts an enrollment: the patient sets their login (`email`, default the invited address) and password.
   * A re-enrolled patient keeps their account id; every old session and reset link stops working.
   */
  async accept(body: unknown): Promise<SignInResult> {
    const fields = readFields(body, ['token', 'email', 'password', 'passwordConfirmation', 'securityQuestion', 'securityAnswer']);
    const token = requiredSecret(fields, 'token');
    const row = await this.secrets.findByToken('enrollment', token);
    this.secrets.assertUsable(row, 'enrollment invitation');
    const email = optionalEmail(fields, 'email') ?? (row.email as string);
    const password = newPassword(fields, { email });
    const security = securityOptionFields(fields);
    const patientId = row.patient_id as string;
    const patient = await systemRepository(this.context).read<Patient>('Patient', patientId);
    if (!canHaveOwnAccount(patient.birthDate, todayOf(this.context), this.context.policy)) throw underMinimumAge(this.context.policy);
    const own = await this.accounts.findByPatientId(patientId);
    const holder = await this.accounts.findByEmail(email);
    if (holder && holder.id !== own?.id) throw emailAlreadyUsed();
    const passwordHash = await hashPassword(password, this.context.passwordParams);
    const answerHash = security ? await securityAnswerHash(security.answer, this.context.passwordParams) : null;
    try {
      return await this.context.db.transaction().execute(async (trx) => {
        const secrets = this.secrets.withDb(trx);
        if (!(await secrets.markUsed(row.id))) throw conflict('This enrollment invitation has just been used.');
        const accounts = this.accounts.withDb(trx);
        let account;
        if (own) {
          await accounts.replaceCredentials(own.id, {
            email,
            passwordHash,
            securityQuestion: security?.question,
            securityAnswerHash: answerHash,
          });
          // The address the account signed in with until now is told, in case it was not its owner who enrolled again.
          await queueLoginEmailChanged(trx, {
            accountId: own.id,
            patientId,
            oldEmail: own.email,
            newEmail: email,
            now: this.context.clock.now(),
          });
          await this.sessions.revokeAll(own.id, trx);
          await secrets.supersede('password-reset', { accountId: own.id });
          await secrets.supersede('staff-reset', { accountId: own.id });
          // Un-enrolled from this practice before: its record is the account's again.
          await trx
            .deleteFrom('account_record')
            .where('account_id', '=', own.id)
            .where('patient_id', '=', patientId)
            .where('ended_at', 'is not', null)
            .execute();
          account = await accounts.findById(own.id);
        } else {
          account = await accounts.create({
            email,
            kind: 'patient',
            patientId,
            displayName: patientDisplayName(patient),
            passwordHash,
            securityQuestion: security?.question ?? null,
            securityAnswerHash: answerHash,
          });
        }
        return this.sessions.startSession(account as NonNullable<typeof account>, trx);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw emailAlreadyUsed();
      throw err;
    }
  }
}
