/**
 * The authorization matrix: callers x patients' records x resource types x (read, search, write) x both age
 * policies, with the clock moved across the 12th, 13th and 18th birthdays. Two hand-written tables say what to
 * expect: LEVELS (who holds what on whose record, per phase and policy) and READ/WRITE (what each level may do
 * with each row). Every cell is compared with them; nothing is derived from the code under test.
 */
import { MESSAGE_SUBJECT_SYSTEM } from '../src/portal/messaging/message-rules';
import type { Account, Appointment, Bundle, Invoice, Questionnaire, Resource } from '@medplum/fhirtypes';
import { PORTAL_REQUEST_TYPE_SYSTEM } from '../src/portal/requests/renewal-request-rules';
import { systemClock } from '../src/fhir/clock';
import { allOperations } from '../src/operations';
import { DemoPaymentProcessor } from '../src/portal/billing/demo-payment-processor';
import { payOperation } from '../src/portal/billing/pay-operation';
import type { AgePolicyName } from '../src/access/age-policy-profiles';
import {
  AccessFamily,
  addRowsLinkingAnotherRecord,
  BadCallerKey,
  CallerKey,
  inPool,
  matches,
  OTHER_PATIENT,
  PATIENTS,
  PatientKey,
  RowKey,
  startAccessFamily,
  T0,
  typeOfRow,
} from './support/access-family';

/**
 * What a caller holds on a record: their own, a grant's level, staff of its organisation, or nothing. `guardian` is full
 * access to a child of the policy's child band (no account of their own): full, and the child's details to keep.
 */
type Level = 'self' | 'full' | 'b+a' | 'billing' | 'none' | 'staff' | 'guardian';
/** What a read or search gives: the whole resource, the reduced view, or nothing (404 / no match). */
type Seen = 'full' | 'reduced' | 'deny';

// Columns:           self    full    b+a        billing    none    staff   (guardian: as full)
const r = (self: Seen, full: Seen, ba: Seen, billing: Seen, none: Seen, staff: Seen): Record<Level, Seen> => ({
  self,
  full,
  'b+a': ba,
  billing,
  none,
  staff,
  guardian: full,
});
const READ: Record<RowKey, Record<Level, Seen>> = {
  Patient: r('full', 'full', 'reduced', 'reduced', 'deny', 'full'),
  Observation: r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  'Observation (preliminary)': r('deny', 'deny', 'deny', 'deny', 'deny', 'full'),
  'DiagnosticReport (preliminary)': r('deny', 'deny', 'deny', 'deny', 'deny', 'full'),
  Condition: r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  Immunization: r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  Appointment: r('full', 'full', 'reduced', 'deny', 'deny', 'full'),
  Invoice: r('full', 'full', 'full', 'full', 'deny', 'full'),
  Account: r('full', 'full', 'full', 'full', 'deny', 'full'),
  Coverage: r('full', 'full', 'full', 'full', 'deny', 'full'),
  ChargeItem: r('full', 'full', 'reduced', 'reduced', 'deny', 'full'),
  'DocumentReference (released)': r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  'DocumentReference (unreleased)': r('deny', 'deny', 'deny', 'deny', 'deny', 'full'),
  'Binary (released)': r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  'Binary (unreleased)': r('deny', 'deny', 'deny', 'deny', 'deny', 'full'),
  Communication: r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  AuditEvent: r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  Consent: r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  RelatedPerson: r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  // A second link to another patient's record gives nothing: these read as their subject's Condition and Observation.
  'Condition (asserted by another)': r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  'Observation (performed by another)': r('full', 'full', 'deny', 'deny', 'deny', 'full'),
  // In both participants' records: the lower of what the caller may see of each (SECOND_RECORD).
  'Appointment (with another patient)': r('full', 'full', 'reduced', 'deny', 'deny', 'full'),
  // Moved here from the other patient's record: as an Observation here; its first version as one there too.
  'Observation (moved from another)': r('full', 'full', 'deny', 'deny', 'deny', 'full'),
};

/**
 * Rows that are also in the record of the row's OTHER_PATIENT: as they are now (both participants of an
 * Appointment), or in their first version (filed there, then moved). What a caller sees of them is the lower of the
 * cells of the two records; of a moved row, the first version (vread) is checked besides read and search.
 */
const SECOND_RECORD: Partial<Record<RowKey, 'current' | 'first version'>> = {
  'Appointment (with another patient)': 'current',
  'Observation (moved from another)': 'first version',
};
const SEEN_ORDER: readonly Seen[] = ['deny', 'reduced', 'full'];
const lower = (a: Seen, b: Seen): Seen => (SEEN_ORDER.indexOf(a) <= SEEN_ORDER.indexOf(b) ? a : b);

/** Rows written by creating a new resource of the type in the record (Patient: updating it). */
type WriteRow =
  | 'Patient'
  | 'Observation'
  | 'Condition'
  | 'Immunization'
  | 'Appointment'
  | 'Invoice'
  | 'Account'
  | 'Coverage'
  | 'DocumentReference'
  | 'Binary'
  | 'Communication'
  | 'AuditEvent'
  | 'Consent'
  | 'Task'
  | 'QuestionnaireResponse';
// Columns:            self full b+a  billing none staff (guardian: as full unless given)
const w = (
  self: number,
  full: number,
  ba: number,
  billing: number,
  none: number,
  staff: number,
  guardian = full,
): Record<Level, number> => ({
  self,
  full,
  'b+a': ba,
  billing,
  none,
  staff,
  guardian,
});
const WRITE: Record<WriteRow, Record<Level, number>> = {
  // The patient may PUT her own record (her contact details, issue 17), and a parent at full a young child's; this PUT
  // changes nothing.
  Patient: w(200, 403, 403, 403, 404, 200, 200),
  Observation: w(403, 403, 403, 403, 403, 201),
  Condition: w(403, 403, 403, 403, 403, 201),
  Immunization: w(403, 403, 403, 403, 403, 201),
  // An appointment request (issue 17): the patient, full access, and Westchester's appointments and billing band.
  Appointment: w(201, 201, 201, 403, 403, 201),
  Invoice: w(403, 403, 403, 403, 403, 201),
  Account: w(403, 403, 403, 403, 403, 201),
  Coverage: w(403, 403, 403, 403, 403, 201),
  DocumentReference: w(403, 403, 403, 403, 403, 201),
  Binary: w(201, 201, 403, 403, 403, 201),
  // Billing levels write to the practice about the bills (issue 17): this message is one.
  Communication: w(201, 201, 201, 201, 403, 201),
  AuditEvent: w(405, 405, 405, 405, 405, 405),
  Consent: w(403, 403, 403, 403, 403, 201),
  // A request to correct the birth date (issue 17): the patient's own, or a young child's by a parent at full; another
  // family member at full may write Tasks, but not this one (400 naming Task.for).
  Task: w(201, 400, 403, 403, 403, 201, 201),
  // A form's answers (issue 17), in progress.
  QuestionnaireResponse: w(201, 201, 403, 403, 403, 201),
};

/** Billing operations, on the patient's Account, Patient and issued (unpaid) Invoice: the answer's status. */
type OpRow = 'Account $balance' | 'Patient $balance' | 'Invoice $statement' | 'Invoice $pay' | 'Patient $portal-options';
// Columns:                     self full b+a  billing none staff
const OPS: Record<OpRow, Record<Level, number>> = {
  'Account $balance': w(200, 200, 200, 200, 404, 200),
  'Patient $balance': w(200, 200, 200, 200, 404, 200),
  'Invoice $statement': w(200, 200, 200, 200, 404, 200),
  // A hosted checkout is opened (201); card data and money never pass through the service.
  'Invoice $pay': w(201, 201, 201, 201, 404, 201),
  // Whom the caller may write to or book with for the patient (issue 17): at billing levels, what those levels allow.
  'Patient $portal-options': w(200, 200, 200, 200, 404, 200),
};

/** A caller's levels on ada, ben, cara and sam, written as four words. */
type Levels = Partial<Record<CallerKey, Record<PatientKey, Level>>>;
const on = (words: string): Record<PatientKey, Level> => {
  const [ada, ben, cara, sam] = words.split(' ') as Level[];
  return { ada, ben, cara, sam };
};

interface Phase {
  readonly name: string;
  readonly at: string;
  /** What happens at this moment before the cells are checked. */
  readonly before?: (f: AccessFamily) => Promise<void>;
  /** 'all' rows and writes, or the 'core' ones (one row per kind of access) at the birthday moments. */
  readonly rows: 'all' | 'core';
  readonly levels: Record<AgePolicyName, Levels>;
}

const CORE_ROWS: readonly RowKey[] = ['Patient', 'Observation', 'Appointment', 'Invoice', 'ChargeItem', 'Communication'];
const CORE_WRITES: readonly WriteRow[] = ['Communication', 'Observation'];

/*
 * Birth dates (demo family built for 2026-03-01): Ada 1983-03-14, Ben 2016-11-23, Cara 2010-07-02. The clinic is in
 * America/Los_Angeles: a birthday starts at 07:00Z in summer (PDT) and 08:00Z in winter (PST).
 * Grants at T0: Ada -> Ben full (guardian), Ada -> Cara billing (guardian), Dan -> Ada full (Ada's own invitation).
 */
const PHASES: readonly Phase[] = [
  {
    name: 'T0: Ben 9, Cara 15; demo grants',
    at: T0,
    rows: 'all',
    levels: {
      westmed: {
        ada: on('self guardian billing none'),
        dan: on('full none none none'),
        cara: on('none none self none'),
        sam: on('none none none self'),
        staff: on('staff staff staff none'),
        otherStaff: on('none none none staff'),
      },
      // The guardian grant to Cara was made at 'billing': Westchester's teen band would allow appointments too, but a
      // grant never gives more than was granted.
      westchester: {
        ada: on('self guardian billing none'),
        dan: on('full none none none'),
        cara: on('none none self none'),
        sam: on('none none none self'),
        staff: on('staff staff staff none'),
        otherStaff: on('none none none staff'),
      },
    },
  },
  {
    name: 'T0 + 1h: Cara (15) grants Ada full; Ada revokes Dan',
    at: '2026-03-01T21:00:00Z',
    before: async (f) => {
      const { grantAccess, revokeGrant } = await import('../src/fhir/proxy-grant-store');
      await grantAccess(f.system, {
        patientId: f.patientIds.cara,
        accountId: f.accountIds.ada,
        grantee: { name: 'Ada Park', relationship: 'MTH' },
        level: 'full',
        grantedBy: 'patient',
        performer: `Patient/${f.patientIds.cara}`,
      });
      await revokeGrant(f.system, f.consents.danForAda);
    },
    rows: 'all',
    levels: {
      // Westmed lets a teen grant full; Westchester caps the teen's own grant at appointments and billing.
      westmed: { ada: on('self guardian full none'), dan: on('none none none none') },
      westchester: { ada: on('self guardian b+a none'), dan: on('none none none none') },
    },
  },
  {
    name: 'T0 + 2h: Cara revokes her grant; the guardian grant is left',
    at: '2026-03-01T22:00:00Z',
    before: async (f) => {
      const { grantsOfAccount, revokeGrant } = await import('../src/fhir/proxy-grant-store');
      const own = (await grantsOfAccount(f.app.database.db, f.accountIds.ada)).find((g) => g.grantedBy === 'patient' && g.active);
      await revokeGrant(f.system, own!.consentId);
    },
    rows: 'core',
    levels: {
      westmed: { ada: on('self guardian billing none'), dan: on('none none none none') },
      westchester: { ada: on('self guardian billing none'), dan: on('none none none none') },
    },
  },
  {
    name: 'the last second before Cara turns 18 (Ben 11)',
    at: '2028-07-02T06:59:59Z',
    rows: 'core',
    levels: {
      westmed: { ada: on('self guardian billing none'), cara: on('none none self none'), staff: on('staff staff staff none') },
      westchester: { ada: on('self guardian billing none'), cara: on('none none self none'), staff: on('staff staff staff none') },
    },
  },
  {
    name: 'Cara’s 18th birthday, local midnight',
    at: '2028-07-02T07:00:00Z',
    rows: 'core',
    levels: {
      westmed: { ada: on('self guardian none none'), cara: on('none none self none'), staff: on('staff staff staff none') },
      westchester: { ada: on('self guardian none none'), cara: on('none none self none'), staff: on('staff staff staff none') },
    },
  },
  {
    name: 'the last second before Ben turns 12',
    at: '2028-11-23T07:59:59Z',
    rows: 'core',
    levels: { westmed: { ada: on('self guardian none none') }, westchester: { ada: on('self guardian none none') } },
  },
  {
    name: 'Ben’s 12th birthday',
    at: '2028-11-23T08:00:00Z',
    rows: 'core',
    levels: { westmed: { ada: on('self guardian none none') }, westchester: { ada: on('self b+a none none') } },
  },
  {
    name: 'the last second before Ben turns 13',
    at: '2029-11-23T07:59:59Z',
    rows: 'core',
    levels: { westmed: { ada: on('self guardian none none') }, westchester: { ada: on('self b+a none none') } },
  },
  {
    name: 'Ben’s 13th birthday',
    at: '2029-11-23T08:00:00Z',
    rows: 'core',
    levels: { westmed: { ada: on('self billing none none') }, westchester: { ada: on('self b+a none none') } },
  },
  {
    name: 'the last second before Ben turns 18',
    at: '2034-11-23T07:59:59Z',
    rows: 'core',
    levels: { westmed: { ada: on('self billing none none') }, westchester: { ada: on('self b+a none none') } },
  },
  {
    name: 'Ben’s 18th birthday',
    at: '2034-11-23T08:00:00Z',
    rows: 'core',
    levels: { westmed: { ada: on('self none none none') }, westchester: { ada: on('self none none none') } },
  },
];

/** Tokens that must never get in: every request is a 401. */
const BAD_CALLERS: readonly BadCallerKey[] = [
  'noToken',
  'expired',
  'tampered',
  'disabledAccount',
  'deletedAccount',
  'userTokenForStaff',
  'staffTokenForPatient',
];

describe.each<AgePolicyName>(['westmed', 'westchester'])('policy %s', (policy) => {
  let f: AccessFamily;
  let unpaid: Record<Exclude<PatientKey, 'sam'>, { invoice: string; account: string }>;
  beforeAll(async () => {
    // $pay opens a checkout at the demo processor: a signed link, nothing written.
    const processor = new DemoPaymentProcessor('whsec_authorization_matrix', 'http://matrix.test', systemClock);
    f = await startAccessFamily(policy, { operations: [...allOperations(), payOperation({ processor, baseUrl: 'http://matrix.test' })] });
    await addRowsLinkingAnotherRecord(f);
    const unpaidOf = async (patient: PatientKey) => ({
      invoice: (await f.system.searchResources<Invoice>('Invoice', { patient: `Patient/${f.patientIds[patient]}`, status: 'issued' }))[0]
        .id!,
      account: (await f.system.searchResources<Account>('Account', { patient: `Patient/${f.patientIds[patient]}` }))[0].id!,
    });
    unpaid = { ada: await unpaidOf('ada'), ben: await unpaidOf('ben'), cara: await unpaidOf('cara') };
    formId = (
      await f.system.create<Questionnaire>({
        resourceType: 'Questionnaire',
        status: 'active',
        title: 'Intake',
        item: [{ linkId: 'allergies', text: 'Any allergies?', type: 'boolean', required: true }],
      })
    ).resource.id!;
  });
  afterAll(() => f?.close());

  test.each(PHASES.map((p) => [p.name, p] as const))(
    '%s',
    async (_name, phase) => {
      f.clock.set(phase.at);
      await phase.before?.(f);
      const expected: string[] = [];
      const tasks: (() => Promise<string>)[] = [];
      for (const [caller, levels] of Object.entries(phase.levels[policy]) as [CallerKey, Record<PatientKey, Level>][]) {
        const token = await f.token(caller);
        for (const patient of PATIENTS) {
          const level = levels[patient];
          for (const row of Object.keys(READ) as RowKey[]) {
            const id = f.rows[patient][row];
            if (!id || (phase.rows === 'core' && !CORE_ROWS.includes(row))) continue;
            const here = READ[row][level];
            const there = lower(here, READ[row][levels[OTHER_PATIENT[patient]]]);
            for (const op of ['read', 'search'] as const) {
              const label = `${caller} -> ${patient} ${row} ${op}`;
              expected.push(`${label}: ${SECOND_RECORD[row] === 'current' ? there : here}`);
              tasks.push(
                async () => `${label}: ${op === 'read' ? await readCell(f, token, row, id) : await searchCell(f, token, row, id)}`,
              );
            }
            if (SECOND_RECORD[row] === 'first version') {
              const label = `${caller} -> ${patient} ${row} vread of the first version`;
              expected.push(`${label}: ${there}`);
              tasks.push(async () => `${label}: ${await readCell(f, token, row, `${id}/_history/1`)}`);
            }
          }
          for (const row of Object.keys(OPS) as OpRow[]) {
            if (patient === 'sam') continue;
            const label = `${caller} -> ${patient} ${row}`;
            expected.push(`${label}: ${OPS[row][level]}`);
            tasks.push(async () => `${label}: ${await operationCell(f, token, row, patient, unpaid)}`);
          }
          for (const row of Object.keys(WRITE) as WriteRow[]) {
            if (patient === 'sam' || (phase.rows === 'core' && !CORE_WRITES.includes(row))) continue;
            const label = `${caller} -> ${patient} ${row} write`;
            expected.push(`${label}: ${WRITE[row][level]}`);
            tasks.push(async () => `${label}: ${await writeCell(f, token, row, patient)}`);
          }
        }
      }
      if (phase.at === T0) {
        // The service's own terminology (issue 17): read by every signed-in caller, written by nobody.
        for (const caller of Object.keys(phase.levels[policy]) as CallerKey[]) {
          const token = await f.token(caller);
          for (const [what, status, run] of [
            ['read CodeSystem', 200, () => f.app.request('/fhir/CodeSystem/portal-message-subject', { token })],
            ['$expand ValueSet', 200, () => f.app.request('/fhir/ValueSet/portal-request-status/$expand', { token })],
            [
              'write ValueSet',
              405,
              () => f.app.request('/fhir/ValueSet', { method: 'POST', token, json: { resourceType: 'ValueSet', status: 'draft' } }),
            ],
          ] as const) {
            expected.push(`${caller} ${what}: ${status}`);
            tasks.push(async () => `${caller} ${what}: ${(await run()).status}`);
          }
        }
        for (const bad of BAD_CALLERS) {
          const token = await f.badToken(bad);
          for (const [what, run] of [
            ['read Patient', () => f.app.request(`/fhir/Patient/${f.patientIds.ada}`, { token })],
            ['read ValueSet', () => f.app.request('/fhir/ValueSet/portal-request-status', { token })],
            ['search Observation', () => f.app.request(`/fhir/Observation?_id=${f.rows.ada.Observation}`, { token })],
            [
              'write Communication',
              () => f.app.request('/fhir/Communication', { method: 'POST', token, json: writeBody(f, 'Communication', 'ada') }),
            ],
          ] as const) {
            expected.push(`${bad} ${what}: 401`);
            tasks.push(async () => `${bad} ${what}: ${(await run()).status}`);
          }
        }
      }
      const actual = await inPool(tasks);
      expect(actual).toEqual(expected);
      // Some thousand requests at T0; the machine may be shared, so a phase gets more than jest's default minute.
    },
    240_000,
  );
});

/** The status of a billing operation on the patient's record. */
async function operationCell(
  f: AccessFamily,
  token: string,
  row: OpRow,
  patient: PatientKey,
  unpaid: Record<string, { invoice: string; account: string }>,
): Promise<number> {
  const { invoice, account } = unpaid[patient];
  switch (row) {
    case 'Account $balance':
      return (await f.app.request(`/fhir/Account/${account}/$balance`, { token })).status;
    case 'Patient $balance':
      return (await f.app.request(`/fhir/Patient/${f.patientIds[patient]}/$balance`, { token })).status;
    case 'Invoice $statement': {
      const res = await f.app.request(`/fhir/Invoice/${invoice}/$statement`, { token });
      await res.arrayBuffer();
      return res.status;
    }
    case 'Patient $portal-options':
      return (await f.app.request(`/fhir/Patient/${f.patientIds[patient]}/$portal-options`, { token })).status;
    case 'Invoice $pay':
      return (
        await f.app.request(`/fhir/Invoice/${invoice}/$pay`, {
          method: 'POST',
          token,
          json: { resourceType: 'Parameters', parameter: [{ name: 'amount', valueDecimal: 1 }] },
        })
      ).status;
  }
}

async function readCell(f: AccessFamily, token: string, row: RowKey, id: string): Promise<string> {
  const type = typeOfRow(row);
  const res = await f.app.request(`/fhir/${type}/${id}`, { token });
  if (res.status === 404) return 'deny';
  if (res.status !== 200) return `status ${res.status}`;
  if (type === 'Binary') return (await res.arrayBuffer()).byteLength > 0 ? 'full' : 'empty';
  return shapeOf(row, (await res.json()) as Resource);
}

async function searchCell(f: AccessFamily, token: string, row: RowKey, id: string): Promise<string> {
  const res = await f.app.request(`/fhir/${typeOfRow(row)}?_id=${id}`, { token });
  if (res.status !== 200) return `status ${res.status}`;
  const found = matches((await res.json()) as Bundle);
  if (!found.length) return 'deny';
  return found.length === 1 && found[0].id === id ? shapeOf(row, found[0]) : `${found.length} matches`;
}

/** 'full' or 'reduced' for the types with a reduced view, by fields the full resource has and the reduced lacks. */
function shapeOf(row: RowKey, resource: Resource): string {
  const has = (field: string): boolean => (resource as unknown as Record<string, unknown>)[field] !== undefined;
  switch (typeOfRow(row)) {
    case 'Patient':
      if (has('gender')) return 'full';
      return has('name') && has('birthDate') && !has('address') && !has('telecom') && !has('identifier') ? 'reduced' : 'odd';
    case 'Appointment':
      if (has('reasonCode')) return 'full';
      return has('start') && !has('comment') && !has('description') ? 'reduced' : 'odd';
    case 'ChargeItem':
      if (has('reason')) return 'full';
      return has('code') && !has('note') ? 'reduced' : 'odd';
    default:
      return 'full';
  }
}

async function writeCell(f: AccessFamily, token: string, row: WriteRow, patient: PatientKey): Promise<number> {
  if (row === 'Patient') {
    const current = await f.system.read('Patient', f.patientIds[patient]);
    return (await f.app.request(`/fhir/Patient/${current.id}`, { method: 'PUT', token, json: current })).status;
  }
  const body = writeBody(f, row, patient);
  if (row === 'Appointment') {
    // A request names a provider taking part in the portal and a time to come.
    const [maya] = await f.system.searchResources('Practitioner', { family: 'Chen' });
    Object.assign(body, {
      participant: [...(body as Appointment).participant, { actor: { reference: `Practitioner/${maya.id}` }, status: 'needs-action' }],
      requestedPeriod: [{ start: '2099-01-05T17:00:00Z' }],
      reasonCode: [{ text: 'Check-up' }],
    });
  }
  return (await f.app.request(`/fhir/${row}`, { method: 'POST', token, json: body })).status;
}

/** A form to answer (QuestionnaireResponse row), made once per app. */
let formId: string;

/** A new, valid resource of the type in the patient's record. None of them is a grant. */
function writeBody(f: AccessFamily, row: Exclude<WriteRow, 'Patient'>, patient: PatientKey): Resource {
  const ref = { reference: `Patient/${f.patientIds[patient]}` };
  const text = (s: string) => Buffer.from(s).toString('base64');
  switch (row) {
    case 'Observation':
      return { resourceType: 'Observation', status: 'final', code: { text: 'Mood' }, subject: ref, valueString: 'good' };
    case 'Condition':
      return { resourceType: 'Condition', code: { text: 'Headache' }, subject: ref };
    case 'Immunization':
      return {
        resourceType: 'Immunization',
        status: 'completed',
        vaccineCode: { text: 'Flu' },
        patient: ref,
        occurrenceDateTime: '2026-01-05',
      };
    case 'Appointment':
      return { resourceType: 'Appointment', status: 'proposed', participant: [{ actor: ref, status: 'needs-action' }] };
    case 'Invoice':
      return { resourceType: 'Invoice', status: 'draft', subject: ref };
    case 'Account':
      return { resourceType: 'Account', status: 'active', subject: [ref] };
    case 'Coverage':
      return {
        resourceType: 'Coverage',
        status: 'active',
        beneficiary: ref,
        payor: [{ reference: `Organization/${f.organizationIds.westside}` }],
      };
    case 'DocumentReference':
      return {
        resourceType: 'DocumentReference',
        status: 'current',
        docStatus: 'final',
        subject: ref,
        content: [{ attachment: { contentType: 'text/plain', data: text('note') } }],
      };
    case 'Binary':
      // What a portal uploads: a message attachment, a PDF by its content (message-rules.ts).
      return { resourceType: 'Binary', contentType: 'application/pdf', data: text('%PDF-1.4 upload'), securityContext: ref };
    case 'Communication': {
      // A sent portal message names its subject and writes to the patient's practice (message-rules.ts).
      const practice = patient === 'sam' ? f.organizationIds.other : f.organizationIds.westside;
      return {
        resourceType: 'Communication',
        status: 'completed',
        subject: ref,
        topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'billing' }] },
        recipient: [{ reference: `Organization/${practice}` }],
        payload: [{ contentString: 'A question about my bill' }],
      };
    }
    case 'Task':
      return {
        resourceType: 'Task',
        status: 'requested',
        intent: 'order',
        code: { coding: [{ system: PORTAL_REQUEST_TYPE_SYSTEM, code: 'profile-change' }] },
        for: ref,
        focus: ref,
        input: [{ type: { coding: [{ code: 'birthDate' }] }, valueDate: '2016-11-24' }],
      };
    case 'QuestionnaireResponse':
      return { resourceType: 'QuestionnaireResponse', status: 'in-progress', questionnaire: `Questionnaire/${formId}`, subject: ref };
    case 'AuditEvent':
      return {
        resourceType: 'AuditEvent',
        type: { code: 'rest' },
        action: 'R',
        recorded: '2026-03-01T20:00:00Z',
        agent: [{ who: ref, requestor: true }],
        source: { observer: { display: 'forged' } },
        entity: [{ what: ref }],
      };
    case 'Consent':
      return {
        resourceType: 'Consent',
        status: 'active',
        patient: ref,
        dateTime: '2026-03-01T20:00:00Z',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTOUT' }] },
      };
  }
}
