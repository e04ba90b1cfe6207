/**
 * One account, several practices (the Westchester FAQ's MANAGE PRACTICES): staff of a second practice issue a security
 * token for their patient; the person, signed in to the account they already have, enters it with their own email,
 * and the second practice's record joins the account (`account_record`). Each record stays its practice's: staff see
 * only their own, and everything else (documents, messages) follows the record it is about.
 */
import type { Patient } from '@medplum/fhirtypes';
import { canHaveOwnAccount } from '../../access/age-policy';
import { organizationNameOf, patientDisplayName, systemRepository, todayOf } from '../../auth/account-context';
import { readFields, requiredEmail, requiredSecret } from '../../auth/account-input';
import { underMinimumAge } from '../../auth/account-messages';
import { AccountService } from '../../auth/account-service';
import type { Account } from '../../auth/account-store';
import { generatePasscode, normalizeTypedCode, ONE_TIME_SECRET_DEFAULTS } from '../../auth/one-time-secret';
import { addressThrottleKey, emailThrottleKey } from '../../auth/session-service';
import { badRequest, conflict, forbidden, unauthorized } from '../../fhir/outcomes';
import { recordsHeldAsPatient } from './account-records';

/** What staff read out or hand over: the token, shown once. */
export interface PracticeToken {
  readonly securityToken: string;
  readonly expiresAt: string;
}

/** A record an account holds as the patient, with its practice. */
export interface HeldRecord {
  readonly patientId: string;
  readonly name: string;
  readonly organization?: { readonly reference: string; readonly display?: string };
}

/** Security tokens for a further practice, and the records an account holds. */
export class PracticeEnrollmentService extends AccountService {
  /**
   * A security token for `patient` (read through the staff caller's repository, so staff reach only their own
   * patients): single use, 30 days; a newer one replaces an unused older one. 409 when the record already has a login.
   */
  async issueToken(patient: Patient): Promise<PracticeToken> {
    const patientId = patient.id as string;
    if (!canHaveOwnAccount(patient.birthDate, todayOf(this.context), this.context.policy)) throw underMinimumAge(this.context.policy);
    if (await this.holderOf(patientId)) throw conflict('This patient’s record is already linked to a portal account');
    const securityToken = generatePasscode(12);
    const row = await this.context.db.transaction().execute(async (trx) => {
      const secrets = this.secrets.withDb(trx);
      await secrets.supersede('practice-token', { patientId });
      return secrets.issue({
        purpose: 'practice-token',
        secret: normalizeTypedCode(securityToken),
        ttlMs: ONE_TIME_SECRET_DEFAULTS.invitation.ttlMs,
        patientId,
      });
    });
    return { securityToken, expiresAt: new Date(row.expires_at).toISOString() };
  }

  /**
   * The signed-in patient enters a practice's security token with their own (login) email: that practice's record joins
   * the account. 401 for a wrong email or token (the same answer), 410 for a used or expired token.
   */
  async enroll(account: Account, body: unknown, address: string): Promise<{ patientId: string; records: HeldRecord[] }> {
    const fields = readFields(body, ['securityToken', 'email']);
    const email = requiredEmail(fields);
    const token = requiredSecret(fields, 'securityToken', 64);
    await this.throttle.consume(
      [
        { key: addressThrottleKey('practice-token', address), policy: this.context.throttles.requestAddress },
        { key: emailThrottleKey('practice-token', account.email), policy: this.context.throttles.requestAccount },
      ],
      'security token attempts',
    );
    if (account.kind !== 'patient') throw forbidden('Enrolling at another practice is for a patient’s own account');
    const row = await this.secrets.findByToken('practice-token', normalizeTypedCode(token));
    if (email !== account.email || !row) throw unauthorized('The email or security token is not correct.');
    this.secrets.assertUsable(row, 'security token');
    const patientId = row.patient_id as string;
    const patient = await systemRepository(this.context).read<Patient>('Patient', patientId);
    if (!canHaveOwnAccount(patient.birthDate, todayOf(this.context), this.context.policy)) throw underMinimumAge(this.context.policy);
    if ((await recordsHeldAsPatient(this.context.db, account)).includes(patientId))
      throw badRequest('This record is already in your account');
    const holder = await this.holderOf(patientId);
    if (holder && holder !== account.id) throw conflict('This record is already linked to another portal account; ask the practice');
    const organizationId = organizationIdOf(patient);
    await this.context.db.transaction().execute(async (trx) => {
      if (!(await this.secrets.withDb(trx).markUsed(row.id))) throw conflict('This security token has just been used.');
      await trx
        .insertInto('account_record')
        .values({
          account_id: account.id,
          patient_id: patientId,
          organization_id: organizationId,
          linked_at: this.context.clock.now(),
          ended_at: null,
        })
        .onConflict((oc) =>
          oc
            .columns(['account_id', 'patient_id'])
            .doUpdateSet({ ended_at: null, linked_at: this.context.clock.now(), organization_id: organizationId }),
        )
        .execute();
    });
    return { patientId, records: await this.recordsOf(account) };
  }

  /**
   * Staff un-enroll the patient's portal account from their practice: that record leaves the account; the account
   * keeps its records at other practices, and the record keeps its history. Re-enrolling ($enroll, or a new security
   * token) brings it back.
   */
  async unenroll(patient: Patient): Promise<{ accountId: string }> {
    const patientId = patient.id as string;
    const now = this.context.clock.now();
    const linked = await this.context.db
      .selectFrom('account_record')
      .select('account_id')
      .where('patient_id', '=', patientId)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    if (linked) {
      await this.context.db
        .updateTable('account_record')
        .set({ ended_at: now })
        .where('patient_id', '=', patientId)
        .where('account_id', '=', linked.account_id)
        .execute();
      return { accountId: linked.account_id };
    }
    const own = await this.accounts.findByPatientId(patientId);
    if (!own || !(await recordsHeldAsPatient(this.context.db, own)).includes(patientId))
      throw conflict('This patient’s record is not enrolled in the portal');
    await this.context.db
      .insertInto('account_record')
      .values({ account_id: own.id, patient_id: patientId, organization_id: organizationIdOf(patient), linked_at: now, ended_at: now })
      .onConflict((oc) => oc.columns(['account_id', 'patient_id']).doUpdateSet({ ended_at: now }))
      .execute();
    return { accountId: own.id };
  }

  /** The records the account holds as the patient, each with its practice (its managing Organization). */
  async recordsOf(account: Account): Promise<HeldRecord[]> {
    const repo = systemRepository(this.context);
    const out: HeldRecord[] = [];
    for (const patientId of await recordsHeldAsPatient(this.context.db, account)) {
      const patient = await repo.read<Patient>('Patient', patientId).catch(() => undefined);
      if (!patient) continue;
      const org = patient.managingOrganization;
      out.push({
        patientId,
        name: patientDisplayName(patient),
        ...(org?.reference ? { organization: { reference: org.reference, display: organizationNameOf(patient) } } : {}),
      });
    }
    return out;
  }

  /** The account holding a patient's record as the patient (its own record, or a linked one), if any. */
  private async holderOf(patientId: string): Promise<string | undefined> {
    const own = await this.accounts.findByPatientId(patientId);
    if (own) return own.id;
    const linked = await this.context.db
      .selectFrom('account_record')
      .select('account_id')
      .where('patient_id', '=', patientId)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    return linked?.account_id;
  }
}

function organizationIdOf(patient: Patient): string | null {
  return /^Organization\/(.+)$/.exec(patient.managingOrganization?.reference ?? '')?.[1] ?? null;
}
