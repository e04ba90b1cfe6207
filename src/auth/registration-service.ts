/**
 * "Who will use this account? The patient": a person proves they are a patient of the practice by matching
 * their record (last name + birth date + email, phone, postal code or MRN), chooses a password, and is signed
 * in. COPPA first: a birth date under the policy's minimum age is refused before any record is looked at.
 */
import { canHaveOwnAccount } from '../access/age-policy';
import { patientDisplayName, systemRepository, todayOf } from './account-context';
import { newPassword, readFields, requiredEmail, securityOptionFields } from './account-input';
import { emailAlreadyUsed, patientAlreadyRegistered, underMinimumAge } from './account-messages';
import { findPatientByIdentity, noMatchingPatient, PATIENT_IDENTITY_FIELDS, readPatientIdentity } from './account-patients';
import { isUniqueViolation } from './account-store';
import { hashPassword } from './password-hash';
import { addressThrottleKey, emailThrottleKey, type SignInResult } from './session-service';
import { securityAnswerHash } from './account-security-answer';
import { AccountService } from './account-service';

/** The fields of a patient's registration. */
export const PATIENT_REGISTRATION_FIELDS = [
  'role',
  ...PATIENT_IDENTITY_FIELDS,
  'firstName',
  'password',
  'passwordConfirmation',
  'securityQuestion',
  'securityAnswer',
] as const;

/** Registers patients as portal users. */
export class RegistrationService extends AccountService {
  /**
   * Registers the patient: `email` is the login and may also be the matching detail. Returns a signed-in
   * session. 403 under the minimum age, 404 no matching record, 409 email taken or patient already registered.
   */
  async registerPatient(body: unknown, address: string): Promise<SignInResult> {
    const fields = readFields(body, PATIENT_REGISTRATION_FIELDS);
    const today = todayOf(this.context);
    const email = requiredEmail(fields);
    await this.throttle.consume(
      [
        { key: addressThrottleKey('register', address), policy: this.context.throttles.requestAddress },
        { key: emailThrottleKey('register', email), policy: this.context.throttles.requestAccount },
      ],
      'registration attempts',
    );
    const identity = readPatientIdentity(fields, today);
    const password = newPassword(fields, { email }, { confirmation: 'optional' });
    const security = securityOptionFields(fields);
    if (!canHaveOwnAccount(identity.birthDate, today, this.context.policy)) throw underMinimumAge(this.context.policy, 'birthDate');
    if (await this.accounts.emailTaken(email)) throw emailAlreadyUsed();
    const patient = await findPatientByIdentity(systemRepository(this.context), { ...identity, email: identity.email ?? email });
    if (!patient?.id) throw noMatchingPatient();
    // The record's birth date decides, not only the typed one (they are equal after matching, but be explicit).
    if (!canHaveOwnAccount(patient.birthDate, today, this.context.policy)) throw underMinimumAge(this.context.policy, 'birthDate');
    if (await this.accounts.findByPatientId(patient.id)) throw patientAlreadyRegistered();
    const passwordHash = await hashPassword(password, this.context.passwordParams);
    const answerHash = security ? await securityAnswerHash(security.answer, this.context.passwordParams) : null;
    try {
      return await this.context.db.transaction().execute(async (trx) => {
        const account = await this.accounts.withDb(trx).create({
          email,
          kind: 'patient',
          patientId: patient.id,
          displayName: patientDisplayName(patient),
          passwordHash,
          securityQuestion: security?.question ?? null,
          securityAnswerHash: answerHash,
        });
        return this.sessions.startSession(account, trx);
      });
    } catch (err) {
      // Two registrations raced: one email, or one patient, got two accounts; the index refused the second.
      if (isUniqueViolation(err)) throw (await this.accounts.emailTaken(email)) ? emailAlreadyUsed() : patientAlreadyRegistered();
      throw err;
    }
  }
}
