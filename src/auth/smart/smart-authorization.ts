/**
 * The decisions behind the SMART sign-in pages: who signs in (the portal account's email and password, under the
 * same throttles as /auth/login), whose record an app is launched for (a parent choosing a child), and what the grant
 * gives (the scopes asked, as far as the account can have them).
 */
import type { Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import type { Account } from '../account-store';
import { patientAccessOf, type ScopeOptions } from '../caller-scope';
import type { SessionService } from '../session-service';
import type { AccessLevel } from '../../access/access-level';
import { parseResourceScope, SMART_OTHER_SCOPES } from '../../access/smart-scopes';
import { badRequest } from '../../fhir/outcomes';
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
      const choices = await this.patientChoices(input.accountId);
      if (patient === undefined && choices.length === 1) patient = choices[0].id;
      if (patient !== undefined && !choices.some((c) => c.id === patient)) throw badRequest('Choose one of the records listed', 'patient');
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

/** Patient id -> "Given Family". */
async function patientNames(smart: SmartServer, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!ids.length) return out;
  const { rows } = await sql<{ id: string; content: string | Patient }>`
    select id, content from resource where resource_type = 'Patient' and deleted = false and id = any(${ids}::text[])`.execute(smart.db);
  for (const row of rows) {
    const patient = (typeof row.content === 'string' ? JSON.parse(row.content) : row.content) as Patient;
    const name = patient.name?.[0];
    const text = name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' ');
    out.set(row.id, text || row.id);
  }
  return out;
}
