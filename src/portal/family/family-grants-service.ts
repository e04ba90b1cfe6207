/**
 * "Family access settings": the patient lists who has access to their record, changes a level and removes
 * access; staff can do the same for their patients, and a family member can give up their own access. The
 * grants are the Consent + RelatedPerson pairs of proxy-grants.ts; this service decides who may change which.
 */
import type { Consent, Patient, RelatedPerson } from '@medplum/fhirtypes';
import type { AccessLevel, GrantLevel } from '../../access/access-level';
import { effectiveAccessLevel } from '../../access/age-policy';
import { todayIn } from '../../access/calendar-date';
import { familyRelationshipOf } from '../../access/family-relationship';
import { ACCOUNT_IDENTIFIER_SYSTEM, accountIdOf, consentToGrant, type StoredGrant } from '../../access/proxy-grants';
import { changeGrantLevel, grantAccess, grantsOfAccount, grantsOfPatient, revokeGrant } from '../../fhir/proxy-grant-store';
import { conflict, forbidden, notFound } from '../../fhir/outcomes';
import type { Repository } from '../../fhir/repository';
import { type AccountContext, systemRepository, todayOf } from '../../auth/account-context';
import type { Account } from '../../auth/account-store';

/** One grant as the settings page shows it. */
export interface FamilyGrantView {
  readonly consent: string;
  readonly relatedPerson: string;
  readonly name: string;
  readonly email?: string;
  readonly relationship?: string;
  readonly level: GrantLevel;
  /** What the grant gives today under the age rules (may be less than `level`). */
  readonly effectiveLevel: AccessLevel;
  readonly grantedBy: StoredGrant['grantedBy'];
  readonly granted: string;
  readonly active: boolean;
  /**
   * The levels the active policy allows this grant today, for a level change by whoever lists it: the patient's change
   * is a grant of their own made today, staff's keeps the grant's authority and date. Empty for a revoked grant.
   */
  readonly allowedLevels: readonly GrantLevel[];
}

/** Who is changing a grant. */
export type GrantActor = { readonly kind: 'account'; readonly account: Account } | { readonly kind: 'staff'; readonly repo: Repository };

/** Lists, changes and revokes family access grants. */
export class FamilyGrantsService {
  constructor(private readonly context: AccountContext) {}

  /** The current grant of each family member and authority (active first), with what each gives today. */
  async list(patientId: string, actor?: GrantActor): Promise<FamilyGrantView[]> {
    const repo = systemRepository(this.context);
    const patient = await repo.read<Patient>('Patient', patientId);
    const today = todayOf(this.context);
    const views: FamilyGrantView[] = [];
    const seen = new Set<string>();
    const grants = (await grantsOfPatient(repo, patientId)).sort((a, b) => Number(b.active) - Number(a.active));
    for (const grant of grants) {
      // Active first, then newest: a Consent replaced by a later one from the same authority is history, not a setting.
      const key = `${grant.relatedPersonId}|${grant.grantedBy}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const rp = await repo.read<RelatedPerson>('RelatedPerson', grant.relatedPersonId).catch(() => undefined);
      if (!rp) continue;
      const grantedOn = todayIn(this.context.timeZone, new Date(grant.granted));
      const relationship = familyRelationshipOf(rp.relationship);
      const levelOn = (level: GrantLevel, grantedBy: StoredGrant['grantedBy'], on: string): AccessLevel =>
        effectiveAccessLevel(
          { birthDate: patient.birthDate, today, grant: { level, grantedBy, grantedOn: on }, relationship },
          this.context.policy,
        );
      const effective = grant.active ? levelOn(grant.level, grant.grantedBy, grantedOn) : 'none';
      // What a change would be: the patient's own grant made today, or (staff) the grant's authority kept.
      const byPatient = actor?.kind === 'account';
      const allowedLevels = grant.active
        ? this.context.policy.grantLevels.filter(
            (level) => levelOn(level, byPatient ? 'patient' : grant.grantedBy, byPatient ? today : grantedOn) === level,
          )
        : [];
      const name = rp.name?.[0];
      views.push({
        consent: `Consent/${grant.consentId}`,
        relatedPerson: `RelatedPerson/${rp.id}`,
        name: name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' '),
        email: rp.telecom?.find((t) => t.system === 'email')?.value,
        relationship: rp.relationship?.[0]?.coding?.[0]?.code,
        level: grant.level,
        effectiveLevel: effective,
        grantedBy: grant.grantedBy,
        granted: grant.granted,
        active: grant.active,
        allowedLevels,
      });
    }
    return views.sort((a, b) => Number(b.active) - Number(a.active));
  }

  /** Whether the actor may see the grants of this patient's record (the patient, or staff who see the patient). */
  async assertMayManage(actor: GrantActor, patientId: string): Promise<void> {
    if (actor.kind === 'account') {
      if (actor.account.patient_id !== patientId) throw notFound(`Patient/${patientId}`);
      return;
    }
    await actor.repo.read('Patient', patientId);
  }

  /**
   * Changes a grant's level. The patient's change is the patient's own grant (a teen granting full access to a
   * parent is what lifts the teen-band limit); staff's change keeps the grant's authority.
   */
  async changeLevel(actor: GrantActor, consentId: string, level: GrantLevel): Promise<Consent> {
    const { grant, consent } = await this.grantOf(consentId);
    if (
      actor.kind === 'account' &&
      actor.account.patient_id !== grant.patientId &&
      (await this.holdsGrantOn(actor.account, grant.patientId))
    ) {
      // A family member of this record (at any level) knows the grant exists: tell them why, rather than "not found".
      throw forbidden('Only the patient (or the practice) may change access levels. You may give up your own access ($revoke-access)');
    }
    await this.assertMayManage(actor, grant.patientId);
    const repo = systemRepository(this.context);
    if (actor.kind === 'staff') return changeGrantLevel(repo, consentId, level);
    const rp = await repo.read<RelatedPerson>('RelatedPerson', grant.relatedPersonId);
    const accountId = accountIdOf(rp);
    if (!accountId || consent.status !== 'active') {
      // Changed in place, the grant keeps its authority: only one the patient made is the patient's to change.
      assertPatientsOwn(grant);
      return changeGrantLevel(repo, consentId, level);
    }
    const name = rp.name?.[0];
    const { consent: replaced } = await grantAccess(repo, {
      patientId: grant.patientId,
      accountId,
      grantee: {
        name: name ?? 'Family member',
        email: rp.telecom?.find((t) => t.system === 'email')?.value,
        relationship: rp.relationship?.[0]?.coding?.[0]?.code ?? 'FAMMEMB',
      },
      level,
      grantedBy: 'patient',
      performer: `Patient/${grant.patientId}`,
    });
    return replaced;
  }

  /**
   * Revokes a grant: staff, the grantee giving up their own access, or the patient revoking a grant the patient made.
   * A guardian's grant (the level the age policy gives a parent of a teen) and a legal authorization on file are not
   * the patient's to remove: the teen revokes what the teen granted, which falls back to the policy's level.
   */
  async revoke(actor: GrantActor, consentId: string): Promise<Consent> {
    const { grant, consent } = await this.grantOf(consentId);
    const repo = systemRepository(this.context);
    if (actor.kind === 'account' && actor.account.patient_id !== grant.patientId) {
      const rp = await repo.read<RelatedPerson>('RelatedPerson', grant.relatedPersonId);
      const own = rp.identifier?.some((i) => i.system === ACCOUNT_IDENTIFIER_SYSTEM && i.value === actor.account.id);
      if (!own) throw notFound(`Consent/${consentId}`);
    } else {
      await this.assertMayManage(actor, grant.patientId);
      if (actor.kind === 'account') assertPatientsOwn(grant);
    }
    if (consent.status !== 'active') {
      // A Consent a level change replaced is history: revoking it would answer 200 and leave the grant in place.
      const replacements = await activeGrantsOf(repo, grant.relatedPersonId, grant.grantedBy);
      if (replacements.length) {
        throw conflict(
          `Consent/${consentId} was replaced by ${replacements.map((c) => `Consent/${c.id}`).join(', ')} when the level changed: revoke that one to end this access`,
        );
      }
    }
    return revokeGrant(repo, consentId);
  }

  /** Whether the account holds a grant (active, at any level) on the patient's record. */
  private async holdsGrantOn(account: Account, patientId: string): Promise<boolean> {
    return (await grantsOfAccount(this.context.db, account.id)).some((g) => g.active && g.patientId === patientId);
  }

  private async grantOf(consentId: string): Promise<{ grant: StoredGrant; consent: Consent }> {
    const consent = await systemRepository(this.context)
      .read<Consent>('Consent', consentId)
      .catch(() => undefined);
    const grant = consent && consentToGrant(consent);
    if (!consent || !grant) throw notFound(`Consent/${consentId}`);
    return { grant, consent };
  }
}

/** 403 unless the patient made this grant (a guardian's grant or a legal authorization is the practice's to change). */
function assertPatientsOwn(grant: StoredGrant): void {
  if (grant.grantedBy === 'patient') return;
  throw forbidden(
    grant.grantedBy === 'guardian'
      ? 'This is the access a parent or guardian has under the practice’s age policy; it is not yours to remove. You can revoke only access you granted yourself, which then falls back to the policy’s level; ask the practice about the rest'
      : 'This access rests on a legal authorization on file with the practice; ask the practice to change it',
  );
}

/** The active grant Consents of a RelatedPerson on one authority (one at most, as grantAccess keeps it). */
async function activeGrantsOf(repo: Repository, relatedPersonId: string, grantedBy: StoredGrant['grantedBy']): Promise<Consent[]> {
  const consents = await repo.searchResources<Consent>('Consent', { actor: `RelatedPerson/${relatedPersonId}`, status: 'active' });
  return consents.filter((c) => consentToGrant(c)?.grantedBy === grantedBy);
}
