/**
 * Invitations by email link: the patient invites a family member (`Patient/{id}/$invite-family`), or staff
 * record a legal authorization (personal representative) for someone without an account yet. Accepting creates
 * the invitee's account, or links an existing one, and writes the grant. Nobody under the policy's minimum age
 * is invited as a portal user (COPPA).
 */
import type { Patient } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import type { GrantLevel } from '../../access/access-level';
import type { GrantedBy } from '../../access/age-policy';
import { canHaveOwnAccount } from '../../access/age-policy';
import { grantAccess } from '../../fhir/proxy-grant-store';
import type { Tables } from '../../db/tables';
import { badRequest, conflict, forbidden, unauthorized } from '../../fhir/outcomes';
import { familyInvitationEmail } from '../../mail/templates/family-invitation-email';
import { organizationNameOf, patientDisplayName, serviceLink, systemRepository, todayOf } from '../../auth/account-context';
import {
  definedOnly,
  type Fields,
  grantLevelField,
  newPassword,
  optionalString,
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
import { payloadOf, type SecretRow } from '../../auth/account-secrets';
import { securityAnswerHash } from '../../auth/account-security-answer';
import { type Account, isUniqueViolation } from '../../auth/account-store';
import { generateToken, ONE_TIME_SECRET_DEFAULTS } from '../../auth/one-time-secret';
import { hashPassword, verifyPassword } from '../../auth/password-hash';
import { addressThrottleKey, emailThrottleKey, type SignInResult } from '../../auth/session-service';
import { legalAuthorizationEmail } from './legal-authorization-email';
import { AccountService } from '../../auth/account-service';

/** What an invitation row remembers. */
export interface InvitationPayload {
  readonly kind: 'family' | 'legal-authorization';
  readonly level: GrantLevel;
  readonly relationship: string;
  readonly inviteeName: string;
  readonly grantedBy: GrantedBy;
  /** Who granted: Patient/{id} (the patient's invitation) or Practitioner/{id} (staff). */
  readonly performer: string;
}

/** What the inviter is told. */
export interface InvitationReceipt {
  readonly invitationId: string;
  readonly expiresAt: string;
}

/** What an invitation link shows before it is accepted. */
export interface InvitationDescription {
  readonly kind: InvitationPayload['kind'];
  readonly email: string;
  readonly inviteeName: string;
  readonly patientName: string;
  readonly level: GrantLevel;
  readonly expiresAt: string;
  /** True when the invited email already signs in: accept with that account's password (or signed in). */
  readonly accountExists: boolean;
}

/** What accepting gives. */
export interface AcceptResult {
  readonly consentId: string;
  readonly patientId: string;
  readonly accountCreated: boolean;
  readonly session?: SignInResult;
}

/** Fields of $invite-family. */
export const INVITE_FAMILY_FIELDS = ['email', 'name', 'level', 'relationship'] as const;
const ACCEPT_FIELDS = [
  'token',
  'password',
  'passwordConfirmation',
  'firstName',
  'lastName',
  'birthDate',
  'securityQuestion',
  'securityAnswer',
] as const;

/** Family invitations and legal authorizations. */
export class InvitationService extends AccountService {
  /** The patient (signed in as themself) invites a family member by email, at level full or billing. */
  async inviteFamily(patientAccount: Account, params: Record<string, string | undefined>): Promise<InvitationReceipt> {
    const fields = readFields(definedOnly(params), INVITE_FAMILY_FIELDS);
    const email = requiredEmail(fields);
    const name = requiredString(fields, 'name', 200);
    const level = grantLevelField(fields, 'level', undefined, this.context.policy.grantLevels);
    const relationship = relationshipField(fields);
    if (email === patientAccount.email) throw badRequest('You cannot invite yourself: this is your own login email', 'email');
    await this.throttle.consume(
      [{ key: emailThrottleKey('invite', patientAccount.email), policy: this.context.throttles.requestAccount }],
      'invitations',
    );
    const repo = systemRepository(this.context);
    const patient = await repo.read<Patient>('Patient', patientAccount.patient_id as string);
    await this.refuseMinorInvitee(email);
    const payload: InvitationPayload = {
      kind: 'family',
      level,
      relationship,
      inviteeName: name,
      grantedBy: 'patient',
      performer: `Patient/${patient.id}`,
    };
    return this.issue(patient, email, payload, (acceptUrl, expiresAt) =>
      familyInvitationEmail({
        organizationName: organizationNameOf(patient),
        inviterName: patientDisplayName(patient),
        inviteeName: name,
        level,
        acceptUrl,
        expiresAt,
        timeZone: this.context.timeZone,
      }),
    );
  }

  /**
   * Staff record a legal authorization (personal representative): an existing account gets the grant at once;
   * otherwise the representative is invited to create one, and the grant is written when they accept.
   */
  async recordLegalAuthorization(
    patient: Patient,
    performer: string,
    params: Record<string, string | undefined>,
  ): Promise<{ consentId?: string; invitation?: InvitationReceipt }> {
    const fields = readFields(definedOnly(params), ['email', 'name', 'level', 'relationship']);
    const email = requiredEmail(fields);
    const name = requiredString(fields, 'name', 200);
    const level = grantLevelField(fields, 'level', 'full', this.context.policy.grantLevels);
    const relationship = relationshipField(fields, 'relationship', 'HPOWATT');
    const payload: InvitationPayload = {
      kind: 'legal-authorization',
      level,
      relationship,
      inviteeName: name,
      grantedBy: 'staff-legal-authorization',
      performer,
    };
    const existing = await this.accounts.findByEmail(email);
    if (existing) {
      if (existing.patient_id === patient.id) throw badRequest('This email is the patient’s own login', 'email');
      const consentId = await this.context.db.transaction().execute((trx) => this.grant(trx, patient.id as string, existing, payload));
      return { consentId };
    }
    await this.refuseMinorInvitee(email);
    const invitation = await this.issue(patient, email, payload, (acceptUrl, expiresAt) =>
      legalAuthorizationEmail({
        organizationName: organizationNameOf(patient),
        patientName: patientDisplayName(patient),
        representativeName: name,
        acceptUrl,
        expiresAt,
        timeZone: this.context.timeZone,
      }),
    );
    return { invitation };
  }

  /** Describes an invitation link without using it (GET). */
  async describe(token: string): Promise<InvitationDescription> {
    const row = await this.secrets.findByToken('family-invitation', token);
    this.secrets.assertUsable(row, 'invitation');
    const payload = payloadOf<InvitationPayload>(row);
    const patient = await systemRepository(this.context).read<Patient>('Patient', row.patient_id as string);
    return {
      kind: payload.kind,
      email: row.email as string,
      inviteeName: payload.inviteeName,
      patientName: patientDisplayName(patient),
      level: payload.level,
      expiresAt: new Date(row.expires_at).toISOString(),
      accountExists: await this.accounts.emailTaken(row.email as string),
    };
  }

  /**
   * Accepts an invitation: as the signed-in `account` when given; else with the invited email's existing
   * account (its password in `password`); else by creating an account (password, name and birth date).
   */
  async accept(body: unknown, address: string, signedIn?: Account): Promise<AcceptResult> {
    const fields = readFields(body, ACCEPT_FIELDS);
    const token = requiredSecret(fields, 'token');
    const row = await this.secrets.findByToken('family-invitation', token);
    this.secrets.assertUsable(row, 'invitation');
    const payload = payloadOf<InvitationPayload>(row);
    const patientId = row.patient_id as string;
    const email = row.email as string;
    if (signedIn) {
      if (signedIn.kind === 'staff') throw forbidden('Staff accounts do not hold family access; accept with a personal account');
      if (signedIn.patient_id === patientId) throw badRequest('This invitation is to your own record');
      return this.link(row, signedIn, payload, false);
    }
    const existing = await this.accounts.findByEmail(email);
    if (existing) return this.acceptWithExistingAccount(row, existing, fields, address, payload);
    return this.acceptWithNewAccount(row, fields, payload);
  }

  private async acceptWithExistingAccount(
    row: SecretRow,
    existing: Account,
    fields: Fields,
    address: string,
    payload: InvitationPayload,
  ): Promise<AcceptResult> {
    const password = fields.password;
    if (typeof password !== 'string' || password === '') {
      throw badRequest('An account already uses the invited email: sign in, or give that account’s password to accept', 'password');
    }
    // The same throttle as sign-in: this is a password check.
    const emailKey = { key: emailThrottleKey('login', existing.email), policy: this.context.throttles.loginAccount };
    const addressKey = { key: addressThrottleKey('login', address), policy: this.context.throttles.loginAddress };
    await this.throttle.assertAllowed([emailKey, addressKey], 'failed sign-ins');
    if (!existing.password_hash || existing.disabled_at || !(await verifyPassword(password, existing.password_hash))) {
      await this.throttle.recordFailure(emailKey);
      await this.throttle.recordFailure(addressKey);
      throw unauthorized('The password is not correct for the account of the invited email.');
    }
    if (existing.kind === 'staff') throw forbidden('Staff accounts do not hold family access; ask the patient to invite a personal email');
    if (existing.patient_id === row.patient_id) throw badRequest('This invitation is to your own record');
    return this.link(row, existing, payload, true);
  }

  private async acceptWithNewAccount(row: SecretRow, fields: Fields, payload: InvitationPayload): Promise<AcceptResult> {
    const today = todayOf(this.context);
    const email = row.email as string;
    const birthDate = requiredPastDate(fields, 'birthDate', today);
    if (!canHaveOwnAccount(birthDate, today, this.context.policy)) throw underMinimumAge(this.context.policy, 'birthDate');
    const firstName = optionalString(fields, 'firstName', 100);
    const lastName = optionalString(fields, 'lastName', 100);
    const displayName = firstName || lastName ? `${firstName ?? ''} ${lastName ?? ''}`.trim() : payload.inviteeName;
    const password = newPassword(fields, { email }, { confirmation: 'optional' });
    const security = securityOptionFields(fields);
    const passwordHash = await hashPassword(password, this.context.passwordParams);
    const answerHash = security ? await securityAnswerHash(security.answer, this.context.passwordParams) : null;
    try {
      return await this.context.db.transaction().execute(async (trx) => {
        await this.claim(trx, row);
        const account = await this.accounts.withDb(trx).create({
          email,
          kind: 'family',
          displayName,
          passwordHash,
          securityQuestion: security?.question ?? null,
          securityAnswerHash: answerHash,
        });
        const consentId = await this.grant(trx, row.patient_id as string, account, payload);
        return {
          consentId,
          patientId: row.patient_id as string,
          accountCreated: true,
          session: await this.sessions.startSession(account, trx),
        };
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw emailAlreadyUsed();
      throw err;
    }
  }

  private async link(row: SecretRow, account: Account, payload: InvitationPayload, withSession: boolean): Promise<AcceptResult> {
    return this.context.db.transaction().execute(async (trx) => {
      await this.claim(trx, row);
      const consentId = await this.grant(trx, row.patient_id as string, account, payload);
      const session = withSession ? await this.sessions.startSession(account, trx) : undefined;
      return { consentId, patientId: row.patient_id as string, accountCreated: false, ...(session ? { session } : {}) };
    });
  }

  private async claim(trx: Kysely<Tables>, row: SecretRow): Promise<void> {
    if (!(await this.secrets.withDb(trx).markUsed(row.id))) throw conflict('This invitation has just been used.');
  }

  private async grant(trx: Kysely<Tables>, patientId: string, account: Account, payload: InvitationPayload): Promise<string> {
    const { consent } = await grantAccess(systemRepository(this.context, trx), {
      patientId,
      accountId: account.id,
      grantee: { name: account.display_name, email: account.email, relationship: payload.relationship },
      level: payload.level,
      grantedBy: payload.grantedBy,
      performer: payload.performer,
    });
    return consent.id as string;
  }

  /** COPPA: an email on file for a patient under the minimum age is not invited. */
  private async refuseMinorInvitee(email: string): Promise<void> {
    const today = todayOf(this.context);
    const patients = await systemRepository(this.context).searchResources<Patient>('Patient', { email });
    if (patients.some((p) => !canHaveOwnAccount(p.birthDate, today, this.context.policy)))
      throw underMinimumAge(this.context.policy, 'email');
  }

  private async issue(
    patient: Patient,
    email: string,
    payload: InvitationPayload,
    render: (acceptUrl: string, expiresAt: Date) => Parameters<typeof sendAccountMail>[2],
  ): Promise<InvitationReceipt> {
    const token = generateToken();
    return this.context.db.transaction().execute(async (trx) => {
      const row = await this.secrets.withDb(trx).issue({
        purpose: 'family-invitation',
        secret: token,
        ttlMs: ONE_TIME_SECRET_DEFAULTS.invitation.ttlMs,
        patientId: patient.id,
        email,
        payload: payload as unknown as Record<string, unknown>,
      });
      const expiresAt = new Date(row.expires_at);
      await sendAccountMail(this.context, email, render(serviceLink(this.context, 'acceptInvitation', { token }), expiresAt));
      return { invitationId: row.id, expiresAt: expiresAt.toISOString() };
    });
  }
}
