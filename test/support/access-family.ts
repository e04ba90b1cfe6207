/**
 * The demo family on a running app, with portal and staff accounts and the demo's grants, for the access tests.
 * Accounts are written straight into the account table and grants through proxy-grants (the flows that create
 * them in production are tested elsewhere). One app per age policy; tests move the clock.
 */
import { randomUUID } from 'node:crypto';
import type {
  Appointment,
  Binary,
  Bundle,
  ChargeItem,
  Communication,
  Condition,
  DocumentReference,
  Observation,
  Organization,
  Patient,
  Resource,
} from '@medplum/fhirtypes';
import { buildAuditEvent } from '../../src/access/audit-event';
import { type AgePolicyName, agePolicyByName } from '../../src/access/age-policy-profiles';
import { unrestrictedScope } from '../../src/access/access-scope';
import { staffResolver, userResolver } from '../../src/auth/caller-scope';
import { grantAccess } from '../../src/fhir/proxy-grant-store';
import { signAccessToken } from '../../src/auth/access-token';
import { TokenAuthenticator } from '../../src/auth/token-authenticator';
import { processBundle } from '../../src/fhir/bundle-processor';
import { FixedClock } from '../../src/fhir/clock';
import { Repository } from '../../src/fhir/repository';
import { insertNew, prepareWrite } from '../../src/fhir/resource-writer';
import { DEMO_FULL_URLS, describeDemoFamily, localCalendarDay } from '../../fixtures/demo-family';
import type { AppDeps } from '../../src/app';
import { startTestApp, TestApp } from './test-app';

/** The patients of the tests: the demo family and Sam, a stranger at another practice. */
export type PatientKey = 'ada' | 'ben' | 'cara' | 'sam';
export const PATIENTS: readonly PatientKey[] = ['ada', 'ben', 'cara', 'sam'];

/** Signed-in callers. */
export type CallerKey = 'ada' | 'dan' | 'cara' | 'sam' | 'staff' | 'otherStaff';

/** Callers whose token must not get in. */
export type BadCallerKey =
  'noToken' | 'expired' | 'tampered' | 'disabledAccount' | 'deletedAccount' | 'userTokenForStaff' | 'staffTokenForPatient';

/** The rows of the access matrix: a resource type, or a type in a particular state. */
export type RowKey =
  | 'Patient'
  | 'Observation'
  | 'Observation (preliminary)'
  | 'DiagnosticReport (preliminary)'
  | 'Condition'
  | 'Immunization'
  | 'Appointment'
  | 'Invoice'
  | 'Account'
  | 'Coverage'
  | 'ChargeItem'
  | 'DocumentReference (released)'
  | 'DocumentReference (unreleased)'
  | 'Binary (released)'
  | 'Binary (unreleased)'
  | 'Communication'
  | 'AuditEvent'
  | 'Consent'
  | 'RelatedPerson'
  // In the patient's record and naming another patient (OTHER_PATIENT) in a second compartment link, or (moved) filed
  // in the other patient's record first and moved to this one.
  | 'Condition (asserted by another)'
  | 'Observation (performed by another)'
  | 'Appointment (with another patient)'
  | 'Observation (moved from another)';

/** For the rows naming another patient: whom each patient's rows name (Sam's, a patient of the other practice's). */
export const OTHER_PATIENT: Readonly<Record<PatientKey, PatientKey>> = { ada: 'cara', ben: 'ada', cara: 'ada', sam: 'ada' };

/** The type a row reads. */
export function typeOfRow(row: RowKey): string {
  return row.split(' ')[0];
}

/** 2026-03-01, noon in Seattle: Ada 42, Ben 9, Cara 15. */
export const T0 = '2026-03-01T20:00:00Z';
export const TIME_ZONE = 'America/Los_Angeles';

export interface AccessFamily {
  readonly app: TestApp;
  readonly clock: FixedClock;
  /** Unrestricted repository for setup and checks. */
  readonly system: Repository;
  readonly patientIds: Readonly<Record<PatientKey, string>>;
  /** Per patient, the id of one resource for each row it has. */
  readonly rows: Readonly<Record<PatientKey, Partial<Record<RowKey, string>>>>;
  readonly accountIds: Readonly<Record<CallerKey | 'disabled', string>>;
  readonly organizationIds: { readonly westside: string; readonly other: string };
  /** The demo family's resources as loaded, by patient (ids as stored). */
  readonly demo: ReadonlyMap<string, readonly Resource[]>;
  /** Consent ids of the demo grants. */
  readonly consents: { readonly adaForBen: string; readonly adaForCara: string; readonly danForAda: string };
  /** The RelatedPerson ids standing for Ada (for Ben, for Cara) and Dan (for Ada). */
  readonly relatedPersons: { readonly adaForBen: string; readonly adaForCara: string; readonly danForAda: string };
  /** A fresh bearer token for the caller, signed at the clock's now. */
  token(caller: CallerKey): Promise<string>;
  /** A token (or none) that must be refused. */
  badToken(caller: BadCallerKey): Promise<string | null>;
  close(): Promise<void>;
}

/** Starts the app on its own database with the demo family, accounts and grants, under `policy`. */
export async function startAccessFamily(policy: AgePolicyName, deps: Partial<AppDeps> = {}): Promise<AccessFamily> {
  const clock = new FixedClock(new Date(T0));
  const app = await startTestApp({
    clock,
    config: { agePolicy: policy, timeZone: TIME_ZONE },
    // The test app makes its signing key; the account-aware authenticator is built on it right after.
    deps: { ...deps, authenticator: { authenticate: (token, authenticate) => authenticator.authenticate(token, authenticate) } },
  });
  const options = { clock, timeZone: TIME_ZONE, policy: agePolicyByName(policy) };
  const authenticator = new TokenAuthenticator(
    app.key,
    clock,
    userResolver(app.database.db, options),
    staffResolver(app.database.db, options),
  );
  const system = new Repository(app.database.db, { scope: unrestrictedScope(), clock, fhirBase: app.fhir });

  const family = describeDemoFamily(localCalendarDay(new Date(T0)));
  const result = await processBundle(system, family.bundle);
  const idOf = new Map<string, string>();
  const byPatient = new Map<string, Resource[]>();
  family.bundle.entry!.forEach((entry, i) => {
    const saved = result.entry![i].resource!;
    idOf.set(entry.fullUrl!, saved.id!);
    const owner = family.entries.get(entry.fullUrl!)?.patient;
    if (owner) byPatient.set(owner, [...(byPatient.get(owner) ?? []), saved]);
  });
  const id = (url: string): string => idOf.get(url)!;
  const westside = id(DEMO_FULL_URLS.organization);
  const other = (await system.create<Organization>({ resourceType: 'Organization', name: 'Harbor Other Clinic' })).resource.id!;
  const sam = (
    await system.create<Patient>({
      resourceType: 'Patient',
      name: [{ family: 'Stone', given: ['Sam'] }],
      gender: 'male',
      birthDate: '1990-05-05',
      managingOrganization: { reference: `Organization/${other}` },
    })
  ).resource;
  const patientIds: Record<PatientKey, string> = {
    ada: id(DEMO_FULL_URLS.adaPatient),
    ben: id(DEMO_FULL_URLS.benPatient),
    cara: id(DEMO_FULL_URLS.caraPatient),
    sam: sam.id!,
  };

  const first = (key: PatientKey, type: string, where: (r: Resource) => boolean = () => true): string | undefined =>
    (byPatient.get(key) ?? []).find((r) => r.resourceType === type && where(r))?.id;
  const rows: Record<PatientKey, Partial<Record<RowKey, string>>> = { ada: {}, ben: {}, cara: {}, sam: {} };
  for (const key of ['ada', 'ben', 'cara'] as const) {
    const r = rows[key];
    r.Patient = patientIds[key];
    r.Observation = first(key, 'Observation', (o) => (o as Observation).status === 'final');
    r.Condition = first(key, 'Condition');
    r.Immunization = first(key, 'Immunization');
    r.Invoice = first(key, 'Invoice');
    r.Account = first(key, 'Account');
    r.Coverage = first(key, 'Coverage');
  }
  rows.ada['Observation (preliminary)'] = first('ada', 'Observation', (o) => (o as Observation).status === 'preliminary');
  rows.ada['DiagnosticReport (preliminary)'] = first('ada', 'DiagnosticReport', (o) => (o as { status?: string }).status === 'preliminary');
  rows.ada['DocumentReference (released)'] = id(DEMO_FULL_URLS.adaReleasedLetter);
  rows.ada['DocumentReference (unreleased)'] = id(DEMO_FULL_URLS.adaUnreleasedLabReport);
  rows.ada['Binary (unreleased)'] = first('ada', 'Binary');
  rows.ada.RelatedPerson = id(DEMO_FULL_URLS.danRelatedPerson);
  rows.ben.RelatedPerson = id(DEMO_FULL_URLS.adaMotherOfBen);
  rows.cara.RelatedPerson = id(DEMO_FULL_URLS.adaMotherOfCara);
  rows.sam.Patient = sam.id;
  rows.sam.Observation = (
    await system.create<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Weight' },
      subject: { reference: `Patient/${sam.id}` },
      valueQuantity: { value: 80, unit: 'kg' },
    })
  ).resource.id;

  const maya = id(DEMO_FULL_URLS.mayaChen);
  for (const key of PATIENTS) {
    const patient = { reference: `Patient/${patientIds[key]}` };
    const r = rows[key];
    r.Communication = (
      await system.create<Communication>({
        resourceType: 'Communication',
        status: 'completed',
        subject: patient,
        recipient: [patient],
        payload: [{ contentString: 'Your results are in.' }],
      })
    ).resource.id;
    // AuditEvents are the service's own (the API refuses to write them): stored as the audit log stores them.
    const event = prepareWrite(
      {
        ...buildAuditEvent({
          patientId: patientIds[key],
          agent: { who: { reference: `Practitioner/${maya}` }, requestor: true },
          interaction: 'read',
          resources: [],
          recorded: new Date(T0),
        }),
        id: randomUUID(),
      },
      1,
      new Date(T0),
    );
    await insertNew(app.database.db, [event]);
    r.AuditEvent = event.resource.id;
    if (key === 'sam') continue;
    r.Appointment = (
      await system.create<Appointment>({
        resourceType: 'Appointment',
        status: 'booked',
        start: '2026-04-01T16:00:00Z',
        end: '2026-04-01T16:30:00Z',
        reasonCode: [{ text: 'Follow-up of a private matter' }],
        comment: 'Bring the diary',
        description: 'Private follow-up',
        participant: [
          { actor: patient, status: 'accepted' },
          { actor: { reference: `Practitioner/${maya}` }, status: 'accepted' },
        ],
      })
    ).resource.id;
    r.ChargeItem = (
      await system.create<ChargeItem>({
        resourceType: 'ChargeItem',
        status: 'billed',
        code: { text: 'Office visit' },
        subject: patient,
        reason: [{ text: 'Private diagnosis' }],
        note: [{ text: 'Clinical note' }],
      })
    ).resource.id;
    if (key !== 'ada') {
      r['DocumentReference (released)'] = (
        await system.create<DocumentReference>({
          resourceType: 'DocumentReference',
          status: 'current',
          docStatus: 'final',
          subject: patient,
          content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('Visit summary').toString('base64') } }],
        })
      ).resource.id;
    }
    r['Binary (released)'] = (
      await system.create<Binary>({
        resourceType: 'Binary',
        contentType: 'text/plain',
        data: Buffer.from(`Letter for ${key}`).toString('base64'),
        securityContext: { reference: `DocumentReference/${r['DocumentReference (released)']}` },
      })
    ).resource.id;
  }

  const now = new Date(T0);
  const account = async (
    kind: 'patient' | 'family' | 'staff',
    email: string,
    extra: { patient_id?: string; organization_id?: string; practitioner_id?: string } = {},
  ): Promise<string> => {
    const accountId = randomUUID();
    await app.database.db
      .insertInto('account')
      .values({
        id: accountId,
        email,
        kind,
        display_name: email.split('@')[0],
        created_at: now,
        updated_at: now,
        password_hash: null,
        ...extra,
      })
      .execute();
    return accountId;
  };
  const accountIds = {
    ada: await account('patient', 'ada.park@example.com', { patient_id: patientIds.ada }),
    cara: await account('patient', 'cara.park@example.com', { patient_id: patientIds.cara }),
    dan: await account('family', 'dan.reyes@example.com'),
    sam: await account('patient', 'sam.stone@example.com', { patient_id: patientIds.sam }),
    staff: await account('staff', 'maya.chen@example.com', { organization_id: westside, practitioner_id: maya }),
    otherStaff: await account('staff', 'front.desk@other.example.com', { organization_id: other }),
    disabled: await account('family', 'eve@example.com'),
  };
  const staffPerformer = `Practitioner/${maya}`;
  const adaForBen = await grantAccess(system, {
    patientId: patientIds.ben,
    accountId: accountIds.ada,
    grantee: { name: 'Ada Park', relationship: 'MTH' },
    level: 'full',
    grantedBy: 'guardian',
    performer: staffPerformer,
    relatedPersonId: id(DEMO_FULL_URLS.adaMotherOfBen),
  });
  const adaForCara = await grantAccess(system, {
    patientId: patientIds.cara,
    accountId: accountIds.ada,
    grantee: { name: 'Ada Park', relationship: 'MTH' },
    level: 'billing',
    grantedBy: 'guardian',
    performer: staffPerformer,
    relatedPersonId: id(DEMO_FULL_URLS.adaMotherOfCara),
  });
  const danForAda = await grantAccess(system, {
    patientId: patientIds.ada,
    accountId: accountIds.dan,
    grantee: { name: 'Dan Reyes', relationship: 'DOMPART' },
    level: 'full',
    grantedBy: 'patient',
    performer: `Patient/${patientIds.ada}`,
    relatedPersonId: id(DEMO_FULL_URLS.danRelatedPerson),
  });
  await grantAccess(system, {
    patientId: patientIds.ada,
    accountId: accountIds.disabled,
    grantee: { name: 'Eve', relationship: 'FRND' },
    level: 'full',
    grantedBy: 'patient',
    performer: `Patient/${patientIds.ada}`,
  });
  await app.database.db.updateTable('account').set({ disabled_at: now }).where('id', '=', accountIds.disabled).execute();
  rows.ada.Consent = danForAda.consent.id;
  rows.ben.Consent = adaForBen.consent.id;
  rows.cara.Consent = adaForCara.consent.id;

  const sign = (sub: string, kind: 'user' | 'staff', ttlSeconds = 900): Promise<string> =>
    signAccessToken({ sub, kind }, app.key, { clock, ttlSeconds });
  return {
    app,
    clock,
    system,
    patientIds,
    rows,
    accountIds,
    demo: byPatient,
    organizationIds: { westside, other },
    consents: { adaForBen: adaForBen.consent.id!, adaForCara: adaForCara.consent.id!, danForAda: danForAda.consent.id! },
    relatedPersons: {
      adaForBen: adaForBen.relatedPerson.id!,
      adaForCara: adaForCara.relatedPerson.id!,
      danForAda: danForAda.relatedPerson.id!,
    },
    token: (caller) => sign(accountIds[caller], caller === 'staff' || caller === 'otherStaff' ? 'staff' : 'user'),
    async badToken(caller) {
      switch (caller) {
        case 'noToken':
          return null;
        case 'expired': {
          // Signed an hour ago, valid for a minute.
          const now = clock.now();
          clock.set(new Date(now.getTime() - 3_600_000));
          const token = await sign(accountIds.ada, 'user', 60);
          clock.set(now);
          return token;
        }
        case 'tampered': {
          const [header, payload, signature] = (await sign(accountIds.ada, 'user')).split('.');
          const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
          const forged = Buffer.from(JSON.stringify({ ...claims, sub: accountIds.staff, kind: 'staff' })).toString('base64url');
          return `${header}.${forged}.${signature}`;
        }
        case 'disabledAccount':
          return sign(accountIds.disabled, 'user');
        case 'deletedAccount':
          return sign(randomUUID(), 'user');
        case 'userTokenForStaff':
          return sign(accountIds.staff, 'user');
        case 'staffTokenForPatient':
          return sign(accountIds.ada, 'staff');
      }
    },
    close: () => app.close(),
  };
}

/** Runs `tasks` with at most `limit` in flight (the app serves them concurrently; PGlite queues the queries). */
export async function inPool<T>(tasks: (() => Promise<T>)[], limit = 8): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

/** Entries of a searchset bundle that matched. */
export function matches(bundle: Bundle): Resource[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!);
}

/**
 * Adds to each patient's record the rows that name another patient (OTHER_PATIENT) in a second compartment link, or
 * were filed in the other patient's record first and moved (the matrix's rows in two records). Not part of the
 * family every test starts with: they add to the other record's searches and activity history.
 */
export async function addRowsLinkingAnotherRecord(f: AccessFamily): Promise<void> {
  const { system, patientIds } = f;
  const rows = f.rows as Record<PatientKey, Partial<Record<RowKey, string>>>;
  for (const key of PATIENTS) {
    const own = { reference: `Patient/${patientIds[key]}` };
    const other = { reference: `Patient/${patientIds[OTHER_PATIENT[key]]}` };
    const r = rows[key];
    r['Condition (asserted by another)'] = (
      await system.create<Condition>({ resourceType: 'Condition', code: { text: 'Asthma' }, subject: own, asserter: other })
    ).resource.id;
    r['Observation (performed by another)'] = (
      await system.create<Observation>({
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Peak flow' },
        subject: own,
        performer: [other],
        valueString: 'normal',
      })
    ).resource.id;
    r['Appointment (with another patient)'] = (
      await system.create<Appointment>({
        resourceType: 'Appointment',
        status: 'booked',
        start: '2026-04-02T16:00:00Z',
        end: '2026-04-02T17:00:00Z',
        reasonCode: [{ text: 'Family counselling' }],
        comment: 'Both of you',
        description: 'Joint session',
        participant: [
          { actor: own, status: 'accepted' },
          { actor: other, status: 'accepted' },
        ],
      })
    ).resource.id;
    const filed = (
      await system.create<Observation>({
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Mood' },
        subject: other,
        valueString: 'low',
      })
    ).resource;
    r['Observation (moved from another)'] = (await system.update<Observation>({ ...filed, subject: own })).resource.id;
  }
}
