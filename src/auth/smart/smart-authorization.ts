/**
 * The decisions behind the SMART sign-in pages: who signs in (the portal account's email and password, under the
 * same throttles as /auth/login), whose record an app is launched for (a parent choosing a child), and what the grant
 * gives (the scopes asked, as far as the account can have them).
 */
import type { Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import type { Account } from '../account-store';
import { patientAccessOf, type ScopeOptions, staffCaller } from '../caller-scope';
import { auditTrailFor } from '../../fhir/audit/audit-trail';
import { Repository } from '../../fhir/repository';
import type { SessionService } from '../session-service';
import type { AccessLevel } from '../../access/access-level';
import { parseResourceScope, SMART_OTHER_SCOPES } from '../../access/smart-scopes';
import { badRequest, FhirError } from '../../fhir/outcomes';
import { effectiveScopeText } from './smart-grantable-scopes';
import { accountKind, type SmartServer } from './smart-provider';

/** A record the signed-in account may launch an app for. */
export interface PatientChoice {
  readonly id: string;
  readonly name: string;
  readonly level: AccessLevel;
  readonly self: boolean;
}

/** What one consent gives, as shown on the consent page and stored in the grant. */
export interface ConsentPlan {
  /** The resource scopes asked for, each with what it gives this account ('' = nothing). */
  readonly resourceScopes: readonly { asked: string; given: string }[];
  /** OpenID and SMART context scopes granted as asked (openid, fhirUser, offline_access, launch/patient...). */
  readonly otherScopes: readonly string[];
}

/** Sign-in, patient choice and grants of the SMART authorization server. */
export class SmartAuthorization {
  constructor(
    private readonly smart: SmartServer,
    private readonly sessions: SessionService,
    private readonly scopeOptions: ScopeOptions,
  ) {}

  /** The account of this email and password (throws the 401 or 429 that /auth/login gives). */
  signIn(email: string, password: string, address: string): Promise<Account> {
    return this.sessions.verifyCredentials({ email, password, address });
  }

  /** The records an account may launch an app for: its own and every one it holds a grant to today. */
  async patientChoices(accountId: string): Promise<PatientChoice[]> {
    const { rows } = await sql<Account>`select * from account where id = ${accountId} and disabled_at is null`.execute(this.smart.db);
    const account = rows[0];
    if (!account || account.kind === 'staff') return [];
    const held = (await patientAccessOf(this.smart.db, account, this.scopeOptions)).filter((a) => a.level !== 'none');
    const names = await patientNames(
      this.smart,
      held.map((a) => a.patientId),
    );
    const choices = new Map<string, PatientChoice>();
    for (const a of held)
      if (!choices.has(a.patientId) || a.self)
        choices.set(a.patientId, { id: a.patientId, name: names.get(a.patientId) ?? a.patientId, level: a.level, self: a.self });
    return [...choices.values()];
  }

  /**
   * Staff launching with patient/ scopes choose a patient of their organisation: up to `STAFF_CHOICES` patients it
   * manages whose name (or birth date, as YYYY-MM-DD, or identifier value) matches `text`, as the staff's own search
   * would find them. No text: nothing yet (an organisation may manage thousands).
   */
  async staffPatientChoices(accountId: string, text: string): Promise<PatientChoice[]> {
    const query = text.trim().slice(0, 100);
    if (!query) return [];
    const repo = await this.staffRepository(accountId);
    if (!repo) return [];
    const parameter = /^\d{4}-\d{2}-\d{2}$/.test(query) ? 'birthdate' : /\d/.test(query) && !/\s/.test(query) ? 'identifier' : 'name';
    const filter: Record<string, string> = { [parameter]: query };
    const found = await repo.searchResources<Patient>('Patient', { ...filter, _count: String(STAFF_CHOICES), _sort: 'family' });
    return found.slice(0, STAFF_CHOICES).map((p) => ({
      id: p.id as string,
      name: `${patientName(p) || p.id}${p.birthDate ? `, born ${p.birthDate}` : ''}`,
      level: 'full',
      self: false,
    }));
  }

  /** Whether the account is a staff account (who search for the patient to launch for, rather than pick from a list). */
  async isStaff(accountId: string): Promise<boolean> {
    return (await accountKind(this.smart.db, accountId)) === 'staff';
  }

  /** Whether a staff account's organisation manages this patient (so its staff may launch an app for them). */
  async staffMayChoose(accountId: string, patientId: string): Promise<boolean> {
    const repo = await this.staffRepository(accountId);
    if (!repo || !/^[A-Za-z0-9\-.]{1,64}$/.test(patientId)) return false;
    try {
      await repo.read<Patient>('Patient', patientId);
      return true;
    } catch (err) {
      if (err instanceof FhirError && (err.status === 404 || err.status === 410)) return false;
      throw err;
    }
  }

  /**
   * The staff account's repository (its organisation's records), or undefined when it is no staff account. What it
   * reads is audited as the FHIR API audits the same staff member's reads: the patients a search on the consent page
   * lists, and the one chosen, each get an AuditEvent naming them.
   */
  private async staffRepository(accountId: string): Promise<Repository | undefined> {
    const { rows } = await sql<Account>`select * from account where id = ${accountId} and disabled_at is null`.execute(this.smart.db);
    const account = rows[0];
    if (account?.kind !== 'staff' || !account.organization_id) return undefined;
    const caller = staffCaller(account);
    const { clock } = this.scopeOptions;
    return new Repository(this.smart.db, {
      scope: caller.scope,
      clock,
      fhirBase: this.smart.fhirBase,
      audit: auditTrailFor(caller, clock),
    });
  }

  /** Whether the scopes ask for a patient context (launch/patient, or any patient/ scope). */
  needsPatient(scope: string): boolean {
    return scope.split(' ').some((s) => s === 'launch/patient' || parseResourceScope(s)?.context === 'patient');
  }

  /** What approving `scope` gives the account, launched for `patient` (if any). */
  async plan(accountId: string, scope: string, patient: string | undefined): Promise<ConsentPlan> {
    const kind = await accountKind(this.smart.db, accountId);
    const asked = [...new Set(scope.split(' ').filter(Boolean))];
    const resourceScopes = asked
      .filter((s) => parseResourceScope(s))
      .map((s) => ({ asked: s, given: effectiveScopeText(s, { kind, patient }) }));
    const otherScopes = asked.filter((s) => SMART_OTHER_SCOPES.includes(s) && (s !== 'launch/patient' || patient !== undefined));
    return { resourceScopes, otherScopes };
  }

  /**
   * Records the account's approval: a grant of the scopes asked that give it something, and the launch patient, who must
   * be one of its choices. Returns the grant id for oidc-provider.
   */
  async approve(input: { accountId: string; clientId: string; scope: string; patient?: string; grantId?: string }): Promise<string> {
    const { provider, fhirBase } = this.smart;
    let patient = input.patient;
    if (this.needsPatient(input.scope)) {
      if ((await accountKind(this.smart.db, input.accountId)) === 'staff') {
        if (patient === undefined) throw badRequest('Find the patient and choose them first', 'patient');
        if (!(await this.staffMayChoose(input.accountId, patient))) throw badRequest('Choose one of the patients found', 'patient');
      } else {
        const choices = await this.patientChoices(input.accountId);
        if (patient === undefined && choices.length === 1) patient = choices[0].id;
        if (patient !== undefined && !choices.some((c) => c.id === patient))
          throw badRequest('Choose one of the records listed', 'patient');
      }
    } else patient = undefined;
    const plan = await this.plan(input.accountId, input.scope, patient);
    const grant =
      (input.grantId ? await provider.Grant.find(input.grantId) : undefined) ??
      new provider.Grant({ accountId: input.accountId, clientId: input.clientId });
    if (plan.otherScopes.length) grant.addOIDCScope(plan.otherScopes.join(' '));
    const resourceScopes = plan.resourceScopes.filter((s) => s.given).map((s) => s.asked);
    if (resourceScopes.length) grant.addResourceScope(fhirBase, resourceScopes.join(' '));
    const grantId = await grant.save();
    await this.smart.saveLaunchContext(grantId, patient ? { patient } : {});
    return grantId;
  }
}

/** How many patients a staff search on the consent page lists. */
const STAFF_CHOICES = 20;

/** "Given Family" (or the name's text) of a Patient's first name. */
function patientName(patient: Patient): string {
  const name = patient.name?.[0];
  return name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' ');
}

/** Patient id -> "Given Family". */
async function patientNames(smart: SmartServer, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!ids.length) return out;
  const { rows } = await sql<{ id: string; content: string | Patient }>`
    select id, content from resource where resource_type = 'Patient' and deleted = false and id = any(${ids}::text[])`.execute(smart.db);
  for (const row of rows) {
    const patient = (typeof row.content === 'string' ? JSON.parse(row.content) : row.content) as Patient;
    out.set(row.id, patientName(patient) || row.id);
  }
  return out;
}
