/**
 * "Who will use this account? The patient's family member": the requester gives their details and the
 * patient's; a temporary passcode goes to the patient (never to the requester); the requester's entering it
 * is the patient's consent, and creates the requester's own account with access to the patient at the level
 * the age rules allow. A family member who already has an account asks the same way from inside it.
 */
import type { Patient } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import type { GrantLevel } from '../../access/access-level';
import { canHaveOwnAccount, knownAdultOn, passcodeConsentGrantedBy } from '../../access/age-policy';
import { grantAccess } from '../../fhir/proxy-grant-store';
import type { Tables } from '../../db/tables';
import { badRequest, conflict } from '../../fhir/outcomes';
import { emailInUseEmail } from '../../mail/templates/email-in-use-email';
import { familyAccessPasscodeEmail } from '../../mail/templates/family-access-passcode-email';
import { organizationNameOf, serviceLink, systemRepository, todayOf } from '../../auth/account-context';
import {
  definedOnly,
  grantLevelField,
  newPassword,
  objectField,
  readFields,
  relationshipField,
  requiredEmail,
  requiredPastDate,
  requiredSecret,
  requiredString,
  securityOptionFields,
} from '../../auth/account-input';
import { sendAccountMail } from '../../auth/account-mail';
import { emailAlreadyUsed, underMinimumAge } from '../../auth/account-messages';
import {
  contactEmailOnFile,
  findPatientByIdentity,
  noMatchingPatient,
  PATIENT_IDENTITY_FIELDS,
  patientEmailOnFile,
  readPatientIdentity,
  relatedPersonWithEmail,
} from '../../auth/account-patients';
import { payloadOf, unknownSecret } from '../../auth/account-secrets';
import { securityAnswerHash } from '../../auth/account-security-answer';
import { type Account, isUniqueViolation } from '../../auth/account-store';
import { generatePasscode, normalizeTypedCode, ONE_TIME_SECRET_DEFAULTS } from '../../auth/one-time-secret';
import { hashPassword } from '../../auth/password-hash';
import { addressThrottleKey, emailThrottleKey, type SignInResult } from '../../auth/session-service';
import { AccountService } from '../../auth/account-service';

/** What the passcode row remembers about the request. */
interface PasscodePayload {
  readonly requester: { readonly firstName: string; readonly lastName: string; readonly email: string; readonly relationship: string };
  readonly level: GrantLevel;
  /** Whether the passcode went to the patient's own portal login (their consent) or to an email on the record. */
  readonly sentTo: 'own-account' | 'record';
  /** The address it went to (to name the guardian who passed it on). */
  readonly sentToEmail: string;
  /** Set when a signed-in account asked: only that account may redeem it. */
  readonly accountId?: string;
}

/** What the requester is told after asking. */
export interface AccessRequestReceipt {
  /** Quote this with the passcode. */
  readonly requestId: string;
  readonly expiresAt: string;
  readonly message: string;
}

/** What redeeming gives: the grant's Consent id and, for a new account, a signed-in session. */
export interface RedeemResult {
  readonly consentId: string;
  readonly patientId: string;
  readonly session?: SignInResult;
}

/** Fields of a family member's registration. */
export const FAMILY_REGISTRATION_FIELDS = ['role', 'requester', 'patient', 'level'] as const;
const REQUESTER_FIELDS = ['firstName', 'lastName', 'email', 'birthDate', 'relationship'] as const;
/** Fields of a signed-in account's request ($request-access). */
export const ACCESS_REQUEST_FIELDS = [...PATIENT_IDENTITY_FIELDS, 'relationship', 'level'] as const;

/** Family access by passcode. */
export class FamilyAccessService extends AccountService {
  /** A family member without an account asks (POST /auth/register, role family-member). */
  async requestAsNewFamilyMember(body: unknown, address: string): Promise<AccessRequestReceipt> {
    const today = todayOf(this.context);
    const fields = readFields(body, FAMILY_REGISTRATION_FIELDS);
    const requesterFields = objectField(fields, 'requester', REQUESTER_FIELDS);
    const email = requiredEmail(requesterFields, 'email', 'requester.');
    await this.rateLimit(address, email);
    const requester = {
      firstName: requiredString(requesterFields, 'firstName', 100, 'requester.'),
      lastName: requiredString(requesterFields, 'lastName', 100, 'requester.'),
      email,
      relationship: relationshipField(requesterFields, 'relationship', 'FAMMEMB', 'requester.'),
    };
    const requesterBirthDate = requiredPastDate(requesterFields, 'birthDate', today, 'requester.');
    const identity = readPatientIdentity(objectField(fields, 'patient', PATIENT_IDENTITY_FIELDS), today, 'patient.');
    const level = grantLevelField(fields, 'level', 'full', this.context.policy.grantLevels);
    // COPPA: the requester becomes a portal user, so they must be old enough to be one.
    if (!canHaveOwnAccount(requesterBirthDate, today, this.context.policy))
      throw underMinimumAge(this.context.policy, 'requester.birthDate');
    const patient = await findPatientByIdentity(systemRepository(this.context), identity);
    if (!patient?.id) throw noMatchingPatient();
    // The same answer whether or not the requester's address has an account (it cannot be used to learn which do):
    // an address in use gets a message saying so, and the patient no passcode.
    return this.sendPasscode(patient, { requester, level }, { requesterHasAccount: await this.accounts.emailTaken(email) });
  }

  /** A signed-in account asks for access to another patient (Patient/$request-access). */
  async requestFromAccount(
    account: Account,
    params: Record<string, string | undefined>,
    address: string,
    patientIdHint?: string,
  ): Promise<AccessRequestReceipt> {
    const today = todayOf(this.context);
    const fields = readFields(definedOnly(params), ACCESS_REQUEST_FIELDS);
    await this.rateLimit(address, account.email);
    const identity = readPatientIdentity(fields, today);
    const level = grantLevelField(fields, 'level', 'full', this.context.policy.grantLevels);
    const relationship = relationshipField(fields, 'relationship', 'FAMMEMB');
    const patient = await findPatientByIdentity(systemRepository(this.context), identity);
    if (!patient?.id || (patientIdHint !== undefined && patient.id !== patientIdHint)) throw noMatchingPatient();
    if (patient.id === account.patient_id) throw badRequest('That is your own record: you already have full access to it');
    const [firstName, ...rest] = account.display_name.split(' ');
    const requester = { firstName, lastName: rest.join(' '), email: account.email, relationship };
    return this.sendPasscode(patient, { requester, level, accountId: account.id });
  }

  /** The requester without an account enters the passcode, chooses a password, and is signed in (201). */
  async redeemAsNewFamilyMember(body: unknown, address: string): Promise<RedeemResult> {
    const fields = readFields(body, ['requestId', 'passcode', 'password', 'passwordConfirmation', 'securityQuestion', 'securityAnswer']);
    const requestId = requiredSecret(fields, 'requestId', 64);
    const passcode = requiredSecret(fields, 'passcode', 64);
    await this.throttle.consume(
      [{ key: addressThrottleKey('passcode', address), policy: this.context.throttles.requestAddress }],
      'passcode attempts',
    );
    const row = await this.secrets.findById('family-passcode', requestId);
    if (!row) throw unknownSecret('access request');
    const payload = payloadOf<PasscodePayload>(row);
    if (payload.accountId)
      throw badRequest('This request was made from a signed-in account: sign in and enter the passcode there ($redeem-passcode)');
    const password = newPassword(fields, { email: payload.requester.email }, { confirmation: 'optional' });
    const security = securityOptionFields(fields);
    await this.secrets.check(row, normalizeTypedCode(passcode), ONE_TIME_SECRET_DEFAULTS.familyPasscode.maxAttempts, 'passcode');
    if (await this.accounts.emailTaken(payload.requester.email)) throw emailAlreadyUsed('requester.email');
    const passwordHash = await hashPassword(password, this.context.passwordParams);
    const answerHash = security ? await securityAnswerHash(security.answer, this.context.passwordParams) : null;
    try {
      return await this.context.db.transaction().execute(async (trx) => {
        if (!(await this.secrets.withDb(trx).markUsed(row.id))) throw conflict('This passcode has just been used.');
        const account = await this.accounts.withDb(trx).create({
          email: payload.requester.email,
          kind: 'family',
          displayName: `${payload.requester.firstName} ${payload.requester.lastName}`.trim(),
          passwordHash,
          securityQuestion: security?.question ?? null,
          securityAnswerHash: answerHash,
        });
        const consentId = await this.grant(trx, row.patient_id as string, account, payload);
        return { consentId, patientId: row.patient_id as string, session: await this.sessions.startSession(account, trx) };
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw emailAlreadyUsed('requester.email');
      throw err;
    }
  }

  /** A signed-in account enters the passcode for its own request ($redeem-passcode). */
  async redeemFromAccount(account: Account, params: Record<string, string | undefined>, address: string): Promise<RedeemResult> {
    const fields = readFields(definedOnly(params), ['requestId', 'passcode']);
    const requestId = requiredSecret(fields, 'requestId', 64);
    const passcode = requiredSecret(fields, 'passcode', 64);
    await this.throttle.consume(
      [{ key: addressThrottleKey('passcode', address), policy: this.context.throttles.requestAddress }],
      'passcode attempts',
    );
    const row = await this.secrets.findById('family-passcode', requestId);
    // Another account's request is "not found" for this one: its existence is none of this caller's business.
    if (!row || payloadOf<PasscodePayload>(row).accountId !== account.id) throw unknownSecret('access request');
    await this.secrets.check(row, normalizeTypedCode(passcode), ONE_TIME_SECRET_DEFAULTS.familyPasscode.maxAttempts, 'passcode');
    return this.context.db.transaction().execute(async (trx) => {
      if (!(await this.secrets.withDb(trx).markUsed(row.id))) throw conflict('This passcode has just been used.');
      const consentId = await this.grant(trx, row.patient_id as string, account, payloadOf<PasscodePayload>(row));
      return { consentId, patientId: row.patient_id as string };
    });
  }

  private async rateLimit(address: string, email: string): Promise<void> {
    await this.throttle.consume(
      [
        { key: addressThrottleKey('access-request', address), policy: this.context.throttles.requestAddress },
        { key: emailThrottleKey('access-request', email), policy: this.context.throttles.requestAccount },
      ],
      'access requests',
    );
  }

  /**
   * Where the passcode goes: the patient's own portal login if they have one, else the email on their record,
   * else (a minor's record) a contact's email. Never the requester's address: then the requester would be
   * consenting for the patient. An adult consents only for themselves, so never through a contact's address.
   */
  private async sendPasscode(
    patient: Patient,
    request: Pick<PasscodePayload, 'requester' | 'level' | 'accountId'>,
    options: { requesterHasAccount?: boolean } = {},
  ): Promise<AccessRequestReceipt> {
    const patientId = patient.id as string;
    const ownAccount = await this.accounts.findByPatientId(patientId);
    const ownEmail = ownAccount && !ownAccount.disabled_at ? ownAccount.email : undefined;
    const adult = knownAdultOn(patient.birthDate, todayOf(this.context), this.context.policy);
    const destination = ownEmail ?? patientEmailOnFile(patient) ?? (adult ? undefined : contactEmailOnFile(patient));
    if (!destination) {
      throw conflict(
        'The patient has no email address on file, so we cannot send them a passcode. Ask the practice to add one, or to record your authorization.',
      );
    }
    if (destination === request.requester.email) {
      throw conflict(
        'The email on file for this patient is your own address, and the passcode must go to the patient, not to you. ' +
          'Ask the practice to update the patient’s email or to record your legal authorization.',
      );
    }
    await this.throttle.consume(
      [{ key: `access-request:patient:${patientId}`, policy: this.context.throttles.requestAccount }],
      'access requests for this patient',
    );
    const passcode = generatePasscode();
    const { ttlMs } = ONE_TIME_SECRET_DEFAULTS.familyPasscode;
    const payload: PasscodePayload = { ...request, sentTo: ownEmail ? 'own-account' : 'record', sentToEmail: destination };
    // Who receives it, as the grant will record it: the patient, or (a child's record) the parent or guardian.
    const toGuardian =
      passcodeConsentGrantedBy(patient.birthDate, todayOf(this.context), payload.sentTo === 'own-account', this.context.policy) ===
      'guardian';
    return this.context.db.transaction().execute(async (trx) => {
      const row = await this.secrets.withDb(trx).issue({
        purpose: 'family-passcode',
        secret: normalizeTypedCode(passcode),
        ttlMs,
        patientId,
        accountId: request.accountId ?? null,
        email: request.requester.email,
        payload: payload as unknown as Record<string, unknown>,
      });
      const expiresAt = new Date(row.expires_at);
      // With an address in use, a request like any other (its passcode, which nobody receives, can never be entered),
      // so that redeeming it answers as a real one does; the address is told what to do instead.
      await sendAccountMail(
        this.context,
        options.requesterHasAccount ? request.requester.email : destination,
        options.requesterHasAccount
          ? emailInUseEmail({
              organizationName: organizationNameOf(patient),
              asked: 'family-access',
              signInUrl: serviceLink(this.context, 'signIn'),
            })
          : familyAccessPasscodeEmail({
              organizationName: organizationNameOf(patient),
              requesterName: `${request.requester.firstName} ${request.requester.lastName}`.trim(),
              passcode,
              expiresAt,
              timeZone: this.context.timeZone,
              familyAccessUrl: serviceLink(this.context, 'familyAccess', { patient: patientId }),
            }),
      );
      return {
        requestId: row.id,
        expiresAt: expiresAt.toISOString(),
        message: passcodeSentMessage(toGuardian, ttlMs),
      };
    });
  }

  /** Writes the grant for a redeemed passcode: whose consent it was follows from where the passcode went. */
  private async grant(trx: Kysely<Tables>, patientId: string, account: Account, payload: PasscodePayload): Promise<string> {
    const repo = systemRepository(this.context, trx);
    const patient = await repo.read<Patient>('Patient', patientId);
    const today = todayOf(this.context);
    const grantedBy = passcodeConsentGrantedBy(patient.birthDate, today, payload.sentTo === 'own-account', this.context.policy);
    let performer = `Patient/${patientId}`;
    if (grantedBy === 'guardian') {
      const guardian = await relatedPersonWithEmail(repo, patientId, payload.sentToEmail);
      if (guardian?.id) performer = `RelatedPerson/${guardian.id}`;
    }
    const { consent } = await grantAccess(repo, {
      patientId,
      accountId: account.id,
      grantee: { name: account.display_name, email: account.email, relationship: payload.requester.relationship },
      level: payload.level,
      grantedBy,
      performer,
    });
    return consent.id as string;
  }
}

/** The reply to an access request: who received the passcode (never the requester), and whose consent it stands for. */
export function passcodeSentMessage(toGuardian: boolean, ttlMs: number): string {
  const enter = `Enter it with this request id within ${Math.round(ttlMs / 3_600_000)} hours.`;
  return toGuardian
    ? 'We sent a temporary passcode to the patient’s parent or guardian, at the email the practice has on file for the child (not to you). ' +
        `By giving you the passcode, the parent or guardian consents to your access. ${enter}`
    : `We sent a temporary passcode to the patient (not to you). By giving you the passcode, the patient consents to your access. ${enter}`;
}
