/**
 * "Who will use this account? The patient": a person proves they are a patient of the practice by matching
 * their record (last name + birth date + email, phone, postal code or MRN), chooses a password, and finishes by
 * following the link mailed to the address they gave. COPPA first: a birth date under the policy's minimum age is
 * refused before any record is looked at.
 *
 * Registration answers alike whether or not the address already has an account, as sign-in and "forgot password"
 * do, so it cannot be used to learn which addresses do: once the details match, the answer is always 202 "we sent
 * you an email". A new address gets the link that creates the account; an address in use gets a message saying
 * so instead. What can still be refused (no matching record, a child, a patient who has an account) depends on
 * the patient's details only, never on the address.
 */
import type { Patient } from '@medplum/fhirtypes';
import { canHaveOwnAccount } from '../access/age-policy';
import { conflict } from '../fhir/outcomes';
import { emailInUseEmail } from '../mail/templates/email-in-use-email';
import { registrationLinkEmail } from '../mail/templates/registration-link-email';
import { inBackground, organizationNameOf, patientDisplayName, serviceLink, systemRepository, todayOf } from './account-context';
import { newPassword, readFields, requiredEmail, requiredSecret, securityOptionFields } from './account-input';
import { sendAccountMail } from './account-mail';
import { emailAlreadyUsed, patientAlreadyRegistered, underMinimumAge } from './account-messages';
import { findPatientByIdentity, noMatchingPatient, PATIENT_IDENTITY_FIELDS, readPatientIdentity } from './account-patients';
import { payloadOf, unknownSecret } from './account-secrets';
import { isUniqueViolation } from './account-store';
import { generateToken } from './one-time-secret';
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

/** How long the link that finishes a registration works. */
export const REGISTRATION_LINK_TTL_MS = 24 * 60 * 60 * 1000;

/** The one answer a registration whose details match gives, whether or not the address has an account. */
export const REGISTRATION_ANSWER =
  'We sent an email to the address you gave. Follow the link in it within 24 hours to finish creating your account. Check your junk mail folder too.';

/** What a registration link stands for until it is followed. */
interface RegistrationPayload {
  readonly passwordHash: string;
  readonly securityQuestion: string | null;
  readonly securityAnswerHash: string | null;
}

/** Registers patients as portal users. */
export class RegistrationService extends AccountService {
  /**
   * Registers the patient: `email` is the login and may also be the matching detail. 202 with REGISTRATION_ANSWER
   * once the details match a patient without an account (the link, or the "address in use" message, goes out
   * after the answer); 403 under the minimum age, 404 no matching record, 409 the patient already has an account.
   */
  async registerPatient(body: unknown, address: string): Promise<{ message: string }> {
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
    const patient = await findPatientByIdentity(systemRepository(this.context), { ...identity, email: identity.email ?? email });
    if (!patient?.id) throw noMatchingPatient();
    // The record's birth date decides, not only the typed one (they are equal after matching, but be explicit).
    if (!canHaveOwnAccount(patient.birthDate, today, this.context.policy)) throw underMinimumAge(this.context.policy, 'birthDate');
    if (await this.accounts.findByPatientId(patient.id)) throw patientAlreadyRegistered();
    // Hashed whichever way it goes, so the answer takes as long for an address in use as for a new one.
    const payload: RegistrationPayload = {
      passwordHash: await hashPassword(password, this.context.passwordParams),
      securityQuestion: security?.question ?? null,
      securityAnswerHash: security ? await securityAnswerHash(security.answer, this.context.passwordParams) : null,
    };
    inBackground(this.context, 'registration email', () => this.mailRegistration(email, patient, payload));
    return { message: REGISTRATION_ANSWER };
  }

  /** The link that finishes the registration, or, to an address that has an account, the message saying so. */
  private async mailRegistration(email: string, patient: Patient, payload: RegistrationPayload): Promise<void> {
    const organizationName = organizationNameOf(patient);
    if (await this.accounts.emailTaken(email)) {
      await sendAccountMail(
        this.context,
        email,
        emailInUseEmail({ organizationName, asked: 'patient-account', signInUrl: serviceLink(this.context, 'signIn') }),
      );
      return;
    }
    const token = generateToken();
    const row = await this.secrets.issue({
      purpose: 'registration',
      secret: token,
      ttlMs: REGISTRATION_LINK_TTL_MS,
      patientId: patient.id,
      email,
      payload: { ...payload },
    });
    await sendAccountMail(
      this.context,
      email,
      registrationLinkEmail({
        organizationName,
        confirmUrl: serviceLink(this.context, 'confirmRegistration', { token }),
        expiresAt: new Date(row.expires_at),
        timeZone: this.context.timeZone,
      }),
    );
  }

  /**
   * Follows a registration link: creates the account and signs the patient in (201). Whoever holds the link holds
   * the address, so here an address taken meanwhile, or a patient registered meanwhile, is said plainly (409).
   */
  async confirm(body: unknown): Promise<SignInResult> {
    const fields = readFields(body, ['token']);
    const token = requiredSecret(fields, 'token');
    const row = await this.secrets.findByToken('registration', token);
    this.secrets.assertUsable(row, 'registration link');
    const payload = payloadOf<RegistrationPayload>(row);
    const email = row.email as string;
    const patient = await systemRepository(this.context)
      .read<Patient>('Patient', row.patient_id as string)
      .catch(() => undefined);
    if (!patient?.id) throw unknownSecret('registration link');
    if (!canHaveOwnAccount(patient.birthDate, todayOf(this.context), this.context.policy)) throw underMinimumAge(this.context.policy);
    if (await this.accounts.findByPatientId(patient.id)) throw patientAlreadyRegistered();
    if (await this.accounts.emailTaken(email)) throw emailAlreadyUsed();
    try {
      return await this.context.db.transaction().execute(async (trx) => {
        if (!(await this.secrets.withDb(trx).markUsed(row.id))) throw conflict('This registration link has just been used.');
        const account = await this.accounts.withDb(trx).create({
          email,
          kind: 'patient',
          patientId: patient.id,
          displayName: patientDisplayName(patient),
          passwordHash: payload.passwordHash,
          securityQuestion: payload.securityQuestion,
          securityAnswerHash: payload.securityAnswerHash,
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
