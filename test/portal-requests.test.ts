/**
 * Issue 17, portal requests over HTTP on the demo family (Westmed at T0, and Westchester for its 12-17 band): which
 * providers take part in the portal, what a portal form may list ($portal-options, the service's ValueSets), and
 * appointment requests from the request to the practice's answer.
 */
import type {
  Appointment,
  Bundle,
  CodeSystem,
  MedicationRequest,
  OperationOutcome,
  Parameters,
  Patient,
  Practitioner,
  PractitionerRole,
  Questionnaire,
  QuestionnaireResponse,
  Task,
  ValueSet,
} from '@medplum/fhirtypes';
import { MESSAGE_SUBJECT_SYSTEM, MESSAGE_SUBJECTS } from '../src/portal/messaging/message-rules';
import { APPOINTMENT_REASON_SYSTEM, APPOINTMENT_REASONS } from '../src/portal/requests/appointment-request-rules';
import { PORTAL_PARTICIPATION_URL } from '../src/portal/requests/provider-participation';
import { PORTAL_REQUEST_TYPE_SYSTEM } from '../src/portal/requests/renewal-request-rules';
import { grantAccess } from '../src/fhir/proxy-grant-store';
import { formCompletionJob } from '../src/jobs/form-completion-job';
import { AccessFamily, type CallerKey, matches, startAccessFamily, T0 } from './support/access-family';

let f: AccessFamily;
let maya: Practitioner;
let omar: Practitioner;
let mayaMain: PractitionerRole;
let harborOffice: string;
beforeAll(async () => {
  f = await startAccessFamily('westmed');
  [maya] = await f.system.searchResources<Practitioner>('Practitioner', { family: 'Chen' });
  [omar] = await f.system.searchResources<Practitioner>('Practitioner', { family: 'Haddad' });
  const roles = await f.system.searchResources<PractitionerRole>('PractitionerRole', { practitioner: `Practitioner/${maya.id}` });
  mayaMain = roles.find((r) => r.location?.[0]?.display === 'Main Street Office')!;
  harborOffice = roles.find((r) => r.location?.[0]?.display === 'Harbor Office')!.location![0].reference!;
});
afterAll(() => f?.close());
beforeEach(() => f.clock.set(T0));

async function call(
  method: string,
  path: string,
  caller: CallerKey,
  json?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await f.app.request(path, { method, token: await f.token(caller), json, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const texts = (outcome: OperationOutcome): string[] => outcome.issue.map((i) => `${i.expression?.[0]}: ${i.details?.text}`);
const patient = (key: 'ada' | 'cara' | 'ben' | 'sam' = 'ada') => ({ reference: `Patient/${f.patientIds[key]}` });
const DAY = 86_400_000;
const inDays = (days: number, hour = 17) => new Date(Date.parse(T0) + days * DAY + (hour - 20) * 3_600_000).toISOString();

function request(extra: Partial<Appointment> = {}, who: 'ada' | 'cara' = 'ada'): Appointment {
  return {
    resourceType: 'Appointment',
    status: 'proposed',
    participant: [
      { actor: patient(who), status: 'needs-action' },
      { actor: { reference: `PractitionerRole/${mayaMain.id}` }, status: 'needs-action' },
      { actor: mayaMain.location![0], status: 'needs-action' },
    ],
    requestedPeriod: [
      { start: inDays(3, 9), end: inDays(3, 12) },
      { start: inDays(4, 13), end: inDays(4, 17) },
    ],
    reasonCode: [{ coding: [{ system: APPOINTMENT_REASON_SYSTEM, code: 'follow-up' }], text: 'Blood pressure check' }],
    ...extra,
  };
}

async function appointmentCount(key: 'ada' | 'cara' = 'ada'): Promise<number> {
  return (await f.system.searchResources<Appointment>('Appointment', { actor: `Patient/${f.patientIds[key]}` })).length;
}

/** Runs `fn` with Dr. Chen (or one of her roles) changed, and puts her back afterwards. */
async function withMayaChanged(change: (p: Practitioner) => Practitioner, fn: () => Promise<void>): Promise<void> {
  const current = await f.system.read<Practitioner>('Practitioner', maya.id!);
  await f.system.update<Practitioner>(change(current));
  try {
    await fn();
  } finally {
    const changed = await f.system.read<Practitioner>('Practitioner', maya.id!);
    await f.system.update<Practitioner>({ ...current, meta: changed.meta });
  }
}

const notInPortal = (p: Practitioner): Practitioner => ({ ...p, extension: [{ url: PORTAL_PARTICIPATION_URL, valueBoolean: false }] });

function part(p: { part?: { name: string; valueCode?: string; valueReference?: { reference?: string } }[] }, name: string): string[] {
  return (p.part ?? []).filter((x) => x.name === name).map((x) => x.valueCode ?? x.valueReference?.reference ?? '');
}

function providersIn(options: Parameters): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of options.parameter ?? []) if (p.name === 'provider') out[part(p, 'practitioner')[0]] = part(p, 'action');
  return out;
}

describe('issue 17 provider portal participation', () => {
  test("the service's own ValueSets and CodeSystems are readable, searchable and expandable, and never written", async () => {
    const subjects = await call('GET', '/fhir/CodeSystem/portal-message-subject', 'ada');
    expect(subjects.status).toBe(200);
    const codeSystem = subjects.body as CodeSystem;
    expect(codeSystem.url).toBe(MESSAGE_SUBJECT_SYSTEM);
    // The list the message rules enforce is the list a form shows.
    expect(Object.fromEntries(codeSystem.concept!.map((c) => [c.code, c.display]))).toEqual(MESSAGE_SUBJECTS);

    const found = await call(
      'GET',
      `/fhir/ValueSet?url=${encodeURIComponent('https://chartkeeper.example/fhir/ValueSet/appointment-request-reason')}`,
      'dan',
    );
    expect(found.status).toBe(200);
    expect(matches(found.body).map((r) => r.id)).toEqual(['appointment-request-reason']);
    expect((await call('GET', '/fhir/ValueSet?name=Portal', 'ada')).body.total).toBe(3);

    const expanded = await call(
      'GET',
      `/fhir/ValueSet/$expand?url=${encodeURIComponent('https://chartkeeper.example/fhir/ValueSet/appointment-request-reason')}`,
      'ada',
    );
    expect(expanded.status).toBe(200);
    expect((expanded.body as ValueSet).expansion!.contains!.map((c) => c.code)).toEqual(APPOINTMENT_REASONS);
    const statuses = await call('GET', '/fhir/ValueSet/portal-request-status/$expand?filter=declin', 'staff');
    expect((statuses.body as ValueSet).expansion!.contains!.map((c) => `${c.system}|${c.code}`)).toEqual([
      'http://hl7.org/fhir/appointmentstatus|cancelled',
      'http://hl7.org/fhir/task-status|rejected',
    ]);
    expect((await call('GET', '/fhir/ValueSet/$expand?url=http://example.org/nothing', 'ada')).status).toBe(404);
    expect((await call('GET', '/fhir/ValueSet/nothing', 'ada')).status).toBe(404);

    const written = await call('PUT', '/fhir/CodeSystem/portal-message-subject', 'staff', { ...codeSystem, concept: [] });
    expect(written.status).toBe(405);
    expect((await call('POST', '/fhir/ValueSet', 'staff', { resourceType: 'ValueSet', status: 'draft' })).status).toBe(405);
    expect((await call('DELETE', '/fhir/ValueSet/portal-message-subject', 'staff')).status).toBe(405);
    expect((await call('GET', '/fhir/CodeSystem/portal-message-subject', 'ada')).body.concept).toHaveLength(8);
  });

  test('$portal-options lists whom Ada may message, book with and ask renewals from, with the subject and reason lists', async () => {
    const res = await call('GET', `/fhir/Patient/${f.patientIds.ada}/$portal-options`, 'ada');
    expect(res.status).toBe(200);
    const options = res.body as Parameters;
    expect(providersIn(options)).toEqual({
      [`Practitioner/${maya.id}`]: ['appointment', 'message', 'renewal'],
      [`Practitioner/${omar.id}`]: ['appointment', 'message'],
    });
    const mayaEntry = options.parameter!.find(
      (p) => p.name === 'provider' && part(p as any, 'practitioner')[0] === `Practitioner/${maya.id}`,
    )!;
    expect(part(mayaEntry as any, 'role')).toContain(`PractitionerRole/${mayaMain.id}`);
    expect(options.parameter!.filter((p) => p.name === 'message-subject').map((p) => p.valueCoding?.code)).toEqual(
      Object.keys(MESSAGE_SUBJECTS),
    );
    expect(options.parameter!.filter((p) => p.name === 'appointment-reason')).toHaveLength(APPOINTMENT_REASONS.length);
    const renewable = options
      .parameter!.filter((p) => p.name === 'renewable-medication')
      .map((p) => p.part![0].valueReference?.display ?? '');
    expect(renewable.sort()).toEqual(
      ['NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector', 'atorvastatin 20 MG Oral Tablet', 'lisinopril 20 MG Oral Tablet'].sort(),
    );
    // Dan, at full access to Ada's record, gets the same choices for her.
    expect(providersIn((await call('GET', `/fhir/Patient/${f.patientIds.ada}/$portal-options`, 'dan')).body)).toEqual(providersIn(options));
    // Ada holds Cara's billing only (Westmed, 15): nothing to choose, and nothing of Cara's medications.
    const forCara = await call('GET', `/fhir/Patient/${f.patientIds.cara}/$portal-options`, 'ada');
    expect(forCara.status).toBe(200);
    expect(forCara.body.parameter ?? []).toEqual([]);
    expect((await call('GET', `/fhir/Patient/${f.patientIds.sam}/$portal-options`, 'ada')).status).toBe(404);
  });

  test('a provider set not to take part, or inactive, is not offered and is refused as a message or request target', async () => {
    await withMayaChanged(notInPortal, async () => {
      const options = await call('GET', `/fhir/Patient/${f.patientIds.ada}/$portal-options`, 'ada');
      expect(Object.keys(providersIn(options.body))).toEqual([`Practitioner/${omar.id}`]);
      const before = await appointmentCount();
      const asked = await call('POST', '/fhir/Appointment', 'ada', request());
      expect(asked.status).toBe(400);
      expect(texts(asked.body)).toEqual([
        expect.stringMatching(/^Appointment\.participant\[1\]: .*does not take part in the patient portal/),
      ]);
      expect(await appointmentCount()).toBe(before);
      const message = await call('POST', '/fhir/Communication', 'ada', {
        resourceType: 'Communication',
        status: 'completed',
        subject: patient(),
        topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'other' }] },
        recipient: [{ reference: `Practitioner/${maya.id}` }],
        payload: [{ contentString: 'Hello' }],
      });
      expect(message.status).toBe(400);
      expect(texts(message.body)).toEqual([
        expect.stringMatching(/^Communication\.recipient\[0\]: .*does not take part in the patient portal/),
      ]);
    });
    await withMayaChanged(
      (p) => ({ ...p, active: false }),
      async () => {
        expect((await call('POST', '/fhir/Appointment', 'ada', request())).status).toBe(400);
      },
    );
    // Back in the portal, the same request goes through.
    expect((await call('POST', '/fhir/Appointment', 'ada', request())).status).toBe(201);
  });
});

describe('issue 17 $portal-options for every caller (Westmed, T0)', () => {
  // Per caller: the status for Ada, Ben, Cara and Sam, and the actions offered where it answers (a: appointment, m:
  // message, r: renewal; -: none). Ben has no active prescription; Sam's practice has no provider in the portal and he
  // has seen nobody; Ada holds Cara's billing only.
  const expected: Record<CallerKey, string> = {
    ada: '200:amr 200:am 200:- 404',
    dan: '200:amr 404 404 404',
    cara: '404 404 200:amr 404',
    sam: '404 404 404 200:-',
    staff: '200:amr 200:am 200:amr 404',
    otherStaff: '404 404 404 200:-',
  };
  test.each(Object.keys(expected) as CallerKey[])('%s', async (caller) => {
    const cells: string[] = [];
    for (const key of ['ada', 'ben', 'cara', 'sam'] as const) {
      const res = await call('GET', `/fhir/Patient/${f.patientIds[key]}/$portal-options`, caller);
      if (res.status !== 200) {
        cells.push(String(res.status));
        continue;
      }
      const actions = new Set(Object.values(providersIn(res.body)).flat());
      if ((res.body.parameter ?? []).some((p: { name: string }) => p.name === 'renewable-medication')) actions.add('renewal');
      const letters = ['appointment', 'message', 'renewal']
        .filter((a) => actions.has(a))
        .map((a) => a[0])
        .join('');
      cells.push(`200:${letters || '-'}`);
    }
    expect(cells.join(' ')).toBe(expected[caller]);
  });
});

describe('issue 17 appointment requests', () => {
  test("Ada requests an appointment; Dr. Chen's practice books it inside a requested period; Ada can no longer change it", async () => {
    const asked = await call('POST', '/fhir/Appointment', 'ada', request());
    expect(asked.status).toBe(201);
    const proposed = asked.body as Appointment;
    expect(proposed.status).toBe('proposed');
    const open = await call('GET', `/fhir/Appointment?status=proposed&actor=PractitionerRole/${mayaMain.id}`, 'staff');
    expect(matches(open.body).map((r) => r.id)).toContain(proposed.id);

    const noTime = await call('PUT', `/fhir/Appointment/${proposed.id}`, 'staff', { ...proposed, status: 'booked' });
    expect(noTime.status).toBe(400);
    expect(texts(noTime.body)).toEqual([
      'Appointment: Constraint app-3 not met: Only proposed or cancelled appointments can be missing start/end dates',
    ]);
    const backwards = await call('PUT', `/fhir/Appointment/${proposed.id}`, 'staff', {
      ...proposed,
      status: 'booked',
      start: inDays(3, 11),
      end: inDays(3, 10),
    });
    expect(texts(backwards.body)).toEqual(['Appointment.end: Appointment.end is not after Appointment.start']);
    const booked = await call('PUT', `/fhir/Appointment/${proposed.id}`, 'staff', {
      ...proposed,
      status: 'booked',
      start: inDays(3, 10),
      end: inDays(3, 10.5),
    });
    expect(booked.status).toBe(200);
    expect(booked.body.status).toBe('booked');
    const changed = await call('PUT', `/fhir/Appointment/${proposed.id}`, 'ada', { ...booked.body, status: 'cancelled' });
    expect(changed.status).toBe(403);
  });

  test('the practice declines a request with a reason; Ada cancels her own open request and may change nothing else', async () => {
    const first = (await call('POST', '/fhir/Appointment', 'ada', request())).body as Appointment;
    const noReason = await call('PUT', `/fhir/Appointment/${first.id}`, 'staff', { ...first, status: 'cancelled' });
    expect(texts(noReason.body)).toEqual([
      expect.stringMatching(/^Appointment\.cancelationReason: Declining or cancelling a request says why/),
    ]);
    const declined = await call('PUT', `/fhir/Appointment/${first.id}`, 'staff', {
      ...first,
      status: 'cancelled',
      cancelationReason: { text: 'Dr. Chen is away that week; please call us' },
    });
    expect(declined.status).toBe(200);

    const second = (await call('POST', '/fhir/Appointment', 'dan', request())).body as Appointment;
    const moved = await call('PUT', `/fhir/Appointment/${second.id}`, 'ada', { ...second, requestedPeriod: [{ start: inDays(9) }] });
    expect(moved.status).toBe(400);
    expect(texts(moved.body)).toEqual([
      'Appointment: An appointment request cannot be changed once sent: cancel it (status "cancelled") and send a new one',
    ]);
    const booked = await call('PUT', `/fhir/Appointment/${second.id}`, 'ada', {
      ...second,
      status: 'booked',
      start: inDays(3, 10),
      end: inDays(3, 11),
    });
    expect(booked.status).toBe(400);
    const cancelled = await call('PUT', `/fhir/Appointment/${second.id}`, 'ada', { ...second, status: 'cancelled' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
  });

  test('a request that is not one is refused whole, each rule named, and nothing is written', async () => {
    const before = await appointmentCount();
    const wrong = await call(
      'POST',
      '/fhir/Appointment',
      'ada',
      request({
        status: 'booked',
        start: inDays(3, 10),
        end: inDays(3, 11),
        requestedPeriod: [{ start: inDays(-1) }, { start: inDays(2) }],
        reasonCode: [{ text: 'Copay on card 4012 8888 8888 1881 please' }],
        comment: 'x'.repeat(1001),
      }),
    );
    expect(wrong.status).toBe(400);
    expect(texts(wrong.body)).toEqual([
      expect.stringMatching(/^Appointment\.status: An appointment request is status "proposed"/),
      expect.stringMatching(/^Appointment\.start: .*set by the practice/),
      expect.stringMatching(/^Appointment\.end: .*set by the practice/),
      expect.stringMatching(/^Appointment\.requestedPeriod\[0\]\.start: .*starts in the past/),
      expect.stringMatching(/^Appointment\.comment: .*1001 characters; at most 1000/),
      expect.stringMatching(/^Appointment\.reasonCode\[0\]\.text: .*payment card number/),
    ]);
    const four = request({ requestedPeriod: [1, 2, 3, 4].map((d) => ({ start: inDays(d) })) });
    expect(texts((await call('POST', '/fhir/Appointment', 'ada', four)).body)).toEqual([
      expect.stringMatching(/^Appointment\.requestedPeriod: .*1 to 3 times.*gives 4/),
    ]);
    const noReason = request({ reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '185389009' }] }] });
    expect(texts((await call('POST', '/fhir/Appointment', 'ada', noReason)).body)[0]).toMatch(
      /^Appointment\.reasonCode\[0\]: .*appointment-request-reason/,
    );
    const wrongOffice = request({
      participant: [request().participant[0], request().participant[1], { actor: { reference: harborOffice }, status: 'needs-action' }],
    });
    expect(texts((await call('POST', '/fhir/Appointment', 'ada', wrongOffice)).body)).toEqual([
      expect.stringMatching(/^Appointment\.participant\[2\]: .*is not an office of/),
    ]);
    // Sam's record is not Ada's to write to: refused as any create the caller may not make.
    expect(
      (
        await call(
          'POST',
          '/fhir/Appointment',
          'ada',
          request({ participant: [{ actor: patient('sam'), status: 'needs-action' }, request().participant[1]] }),
        )
      ).status,
    ).toBe(403);
    expect(await appointmentCount()).toBe(before);
  });

  test("Westmed: Ada holds Cara's billing only, so she may not request Cara's appointments; Cara may", async () => {
    expect((await call('POST', '/fhir/Appointment', 'ada', request({}, 'cara'))).status).toBe(403);
    expect((await call('POST', '/fhir/Appointment', 'cara', request({}, 'cara'))).status).toBe(201);
  });
});

describe('issue 17 appointment requests under the Westchester policy', () => {
  let w: AccessFamily;
  beforeAll(async () => {
    w = await startAccessFamily('westchester');
    // Cara (15) grants her mother access: Westchester caps a teen's own grant at appointments and billing.
    await grantAccess(w.system, {
      patientId: w.patientIds.cara,
      accountId: w.accountIds.ada,
      grantee: { name: 'Ada Park', relationship: 'MTH' },
      level: 'full',
      grantedBy: 'patient',
      performer: `Patient/${w.patientIds.cara}`,
    });
  });
  afterAll(() => w?.close());

  test("Ada may request Cara's appointments (appointments and billing) but not see her Conditions", async () => {
    const [role] = await w.system.searchResources<PractitionerRole>('PractitionerRole', { _count: '1' });
    const body: Appointment = {
      resourceType: 'Appointment',
      status: 'proposed',
      participant: [
        { actor: { reference: `Patient/${w.patientIds.cara}` }, status: 'needs-action' },
        { actor: { reference: `PractitionerRole/${role.id}` }, status: 'needs-action' },
      ],
      requestedPeriod: [{ start: '2026-03-10T17:00:00Z' }],
      reasonCode: [{ coding: [{ system: APPOINTMENT_REASON_SYSTEM, code: 'vaccination' }] }],
    };
    const asked = await w.app.request('/fhir/Appointment', { method: 'POST', token: await w.token('ada'), json: body });
    expect(asked.status).toBe(201);
    const options = await w.app.request(`/fhir/Patient/${w.patientIds.cara}/$portal-options`, { token: await w.token('ada') });
    const parameters = (await options.json()) as Parameters;
    expect(new Set(Object.values(providersIn(parameters)).flat())).toEqual(new Set(['appointment']));
    expect(parameters.parameter!.some((p) => p.name === 'renewable-medication' || p.name === 'message-subject')).toBe(false);
    const conditions = await w.app.request(`/fhir/Condition?patient=Patient/${w.patientIds.cara}`, { token: await w.token('ada') });
    expect(matches((await conditions.json()) as Bundle)).toEqual([]);
    expect((await w.app.request(`/fhir/Condition/${w.rows.cara.Condition}`, { token: await w.token('ada') })).status).toBe(404);
  });
});

describe('issue 17 forms', () => {
  let form: Questionnaire;
  beforeAll(async () => {
    form = (
      await f.system.create<Questionnaire>({
        resourceType: 'Questionnaire',
        status: 'active',
        url: 'https://westside.example/forms/sports-physical',
        version: '2',
        title: 'Sports physical',
        item: [
          {
            linkId: 'sport',
            text: 'Which sport?',
            type: 'choice',
            required: true,
            answerOption: [
              { valueCoding: { system: 'urn:sports', code: 'soccer', display: 'Soccer' } },
              { valueCoding: { system: 'urn:sports', code: 'swim', display: 'Swimming' } },
            ],
          },
          { linkId: 'asthma', text: 'Do you have asthma?', type: 'boolean', required: true },
          {
            linkId: 'inhaler',
            text: 'Which inhaler?',
            type: 'string',
            maxLength: 40,
            required: true,
            enableWhen: [{ question: 'asthma', operator: '=', answerBoolean: true }],
          },
          {
            linkId: 'contacts',
            text: 'Emergency contacts',
            type: 'group',
            repeats: true,
            item: [
              { linkId: 'contact-name', text: 'Name', type: 'string', required: true },
              { linkId: 'contact-phone', text: 'Phone', type: 'string', repeats: true },
            ],
          },
          { linkId: 'note', text: 'Read this', type: 'display' },
        ],
      })
    ).resource;
  });

  const answers = (item: QuestionnaireResponse['item'], extra: Partial<QuestionnaireResponse> = {}): QuestionnaireResponse => ({
    resourceType: 'QuestionnaireResponse',
    status: 'completed',
    questionnaire: `Questionnaire/${form.id}`,
    subject: patient(),
    author: patient(),
    item,
    ...extra,
  });
  const good = (): QuestionnaireResponse['item'] => [
    { linkId: 'sport', answer: [{ valueCoding: { system: 'urn:sports', code: 'swim' } }] },
    { linkId: 'asthma', answer: [{ valueBoolean: true }] },
    { linkId: 'inhaler', answer: [{ valueString: 'Albuterol' }] },
    {
      linkId: 'contacts',
      item: [
        { linkId: 'contact-name', answer: [{ valueString: 'Dan Reyes' }] },
        { linkId: 'contact-phone', answer: [{ valueString: '206-555-0199' }, { valueString: '206-555-0100' }] },
      ],
    },
    { linkId: 'contacts', item: [{ linkId: 'contact-name', answer: [{ valueString: 'Ben Park' }] }] },
  ];
  const responseCount = async () =>
    (await f.system.searchResources<QuestionnaireResponse>('QuestionnaireResponse', { subject: `Patient/${f.patientIds.ada}` })).length;

  test('staff assign a form to Ada as a Task; she sees it due and answers it by id or by its url', async () => {
    const task = await call('POST', '/fhir/Task', 'staff', {
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      code: { coding: [{ system: 'https://chartkeeper.example/fhir/CodeSystem/portal-request-type', code: 'form-assignment' }] },
      focus: { reference: `Questionnaire/${form.id}` },
      for: patient(),
      restriction: { period: { end: '2026-03-15' } },
    });
    expect(task.status).toBe(201);
    const due = await call('GET', `/fhir/Task?patient=Patient/${f.patientIds.ada}&status=requested`, 'ada');
    expect(matches(due.body).map((t) => t.id)).toContain(task.body.id);
    expect(matches((await call('GET', `/fhir/Task?patient=Patient/${f.patientIds.ada}`, 'cara')).body)).toEqual([]);

    expect((await call('POST', '/fhir/QuestionnaireResponse', 'ada', answers(good()))).status).toBe(201);
    const byUrl = answers(good(), { questionnaire: 'https://westside.example/forms/sports-physical|2' });
    expect(
      (
        await call('POST', '/fhir/QuestionnaireResponse', 'dan', {
          ...byUrl,
          author: { reference: `RelatedPerson/${f.relatedPersons.danForAda}` },
        })
      ).status,
    ).toBe(201);
    // No asthma: the inhaler question does not apply, and a draft may leave required questions open.
    expect(
      (
        await call(
          'POST',
          '/fhir/QuestionnaireResponse',
          'ada',
          answers([
            { linkId: 'sport', answer: [{ valueCoding: { code: 'soccer' } }] },
            { linkId: 'asthma', answer: [{ valueBoolean: false }] },
          ]),
        )
      ).status,
    ).toBe(201);
    expect((await call('POST', '/fhir/QuestionnaireResponse', 'ada', answers([], { status: 'in-progress' }))).status).toBe(201);

    // Completing the form completes its Task (the form-completion job), naming the answers.
    const completed = await formCompletionJob({ db: f.app.database.db, clock: f.clock, baseUrl: f.app.url });
    expect(completed?.map((c) => c.taskId)).toEqual([task.body.id]);
    const done = (await call('GET', `/fhir/Task/${task.body.id}`, 'ada')).body as Task;
    expect(done.status).toBe('completed');
    expect(done.output?.[0].valueReference?.reference).toMatch(/^QuestionnaireResponse\//);
    expect(await formCompletionJob({ db: f.app.database.db, clock: f.clock, baseUrl: f.app.url })).toEqual([]);
  });

  test('each kind of wrong answer is refused, naming the item, and nothing is stored', async () => {
    const before = await responseCount();
    const wrong = await call(
      'POST',
      '/fhir/QuestionnaireResponse',
      'ada',
      answers([
        { linkId: 'sport', answer: [{ valueCoding: { system: 'urn:sports', code: 'chess' } }] },
        { linkId: 'asthma', answer: [{ valueString: 'yes' }] },
        { linkId: 'made-up', answer: [{ valueString: '?' }] },
        { linkId: 'contacts', item: [{ linkId: 'contact-phone', answer: [{ valueString: '1' }] }] },
        { linkId: 'note', answer: [{ valueString: 'read' }] },
      ]),
    );
    expect(wrong.status).toBe(400);
    expect(texts(wrong.body)).toEqual([
      expect.stringMatching(
        /^QuestionnaireResponse\.item\[0\]\.answer\[0\]: .*"Which sport\?" \(sport\) takes one of its listed answers \(soccer \(Soccer\), swim \(Swimming\)\); chess is not one of them/,
      ),
      expect.stringMatching(
        /^QuestionnaireResponse\.item\[1\]\.answer\[0\]: .*\(asthma\) is a boolean question; answer it with valueBoolean, not valueString/,
      ),
      expect.stringMatching(/^QuestionnaireResponse\.item\[2\]: .*linkId "made-up" is not a question of this form/),
      expect.stringMatching(/^QuestionnaireResponse\.item\[3\]: .*"Name" \(contact-name\) is required/),
      expect.stringMatching(/^QuestionnaireResponse\.item\[4\]\.answer: .*\(note\) is a display, which takes no answer/),
    ]);
    const disabled = await call(
      'POST',
      '/fhir/QuestionnaireResponse',
      'ada',
      answers([
        ...good()!.slice(0, 1),
        { linkId: 'asthma', answer: [{ valueBoolean: false }] },
        { linkId: 'inhaler', answer: [{ valueString: 'x' }] },
      ]),
    );
    expect(texts(disabled.body)).toEqual([
      expect.stringMatching(/^QuestionnaireResponse\.item\[2\]: .*\(inhaler\) does not apply given the other answers/),
    ]);
    const missing = await call('POST', '/fhir/QuestionnaireResponse', 'ada', answers([good()![0], good()![1]]));
    expect(texts(missing.body)).toEqual([expect.stringMatching(/^QuestionnaireResponse: .*"Which inhaler\?" \(inhaler\) is required/)]);
    const twice = await call(
      'POST',
      '/fhir/QuestionnaireResponse',
      'ada',
      answers([
        { linkId: 'sport', answer: [{ valueCoding: { code: 'swim' } }, { valueCoding: { code: 'soccer' } }] },
        good()![1],
        { linkId: 'inhaler', answer: [{ valueString: 'x'.repeat(41) }] },
      ]),
    );
    expect(texts(twice.body)).toEqual([
      expect.stringMatching(/^QuestionnaireResponse\.item\[0\]\.answer: .*\(sport\) takes one answer; 2 are given/),
      expect.stringMatching(/^QuestionnaireResponse\.item\[2\]\.answer\[0\]: .*at most 40 characters; 41 are given/),
    ]);
    expect(await responseCount()).toBe(before);
  });

  test('answers to an unknown or retired form are refused', async () => {
    const unknown = await call(
      'POST',
      '/fhir/QuestionnaireResponse',
      'ada',
      answers(good(), { questionnaire: 'Questionnaire/no-such-form' }),
    );
    expect(unknown.status).toBe(400);
    expect(texts(unknown.body)).toEqual([
      'QuestionnaireResponse.questionnaire: questionnaire names Questionnaire/no-such-form, which is no form of this practice',
    ]);
    expect((await call('POST', '/fhir/QuestionnaireResponse', 'ada', answers(good(), { questionnaire: undefined }))).status).toBe(400);
    const { resource: old } = await f.system.create<Questionnaire>({
      resourceType: 'Questionnaire',
      status: 'retired',
      title: 'Old intake',
      item: [{ linkId: 'a', type: 'string' }],
    });
    const retired = await call(
      'POST',
      '/fhir/QuestionnaireResponse',
      'ada',
      answers([{ linkId: 'a', answer: [{ valueString: 'x' }] }], { questionnaire: `Questionnaire/${old.id}` }),
    );
    expect(texts(retired.body)).toEqual(['QuestionnaireResponse.questionnaire: The form Old intake is retired and takes no more answers']);
  });
});

describe('issue 17 prescription renewals', () => {
  const renewal = (medication: MedicationRequest, extra: Partial<Task> = {}): Task => ({
    resourceType: 'Task',
    status: 'requested',
    intent: 'order',
    for: patient(),
    focus: { reference: `MedicationRequest/${medication.id}` },
    code: { coding: [{ system: PORTAL_REQUEST_TYPE_SYSTEM, code: 'renewal-request' }] },
    note: [{ text: 'Running out next week' }],
    input: [{ type: { text: 'preferred pharmacy' }, valueString: 'Harbor Pharmacy, 2410 Harbor Ave SW' }],
    ...extra,
  });
  const meds = async (status: string) =>
    f.system.searchResources<MedicationRequest>('MedicationRequest', { patient: `Patient/${f.patientIds.ada}`, status });

  test('Ada asks to renew an active prescription; a second request is 409 naming the first; Dr. Chen accepts with a new prescription', async () => {
    const [atorvastatin] = (await meds('active')).filter((m) =>
      /atorvastatin/.test(m.medicationCodeableConcept?.text ?? m.medicationCodeableConcept?.coding?.[0]?.display ?? ''),
    );
    const asked = await call('POST', '/fhir/Task', 'ada', renewal(atorvastatin));
    expect(asked.status).toBe(201);
    const again = await call('POST', '/fhir/Task', 'dan', renewal(atorvastatin));
    expect(again.status).toBe(409);
    expect(texts(again.body)[0]).toContain(`already waiting for the practice: Task/${asked.body.id}`);

    const renewed = await call('POST', '/fhir/MedicationRequest', 'staff', {
      ...atorvastatin,
      id: undefined,
      meta: undefined,
      authoredOn: '2026-03-01',
      basedOn: [{ reference: `MedicationRequest/${atorvastatin.id}` }],
      priorPrescription: { reference: `MedicationRequest/${atorvastatin.id}` },
    });
    expect(renewed.status).toBe(201);
    const task = asked.body as Task;
    expect((await call('PUT', `/fhir/Task/${task.id}`, 'staff', { ...task, status: 'completed' })).status).toBe(400);
    const done = await call('PUT', `/fhir/Task/${task.id}`, 'staff', {
      ...task,
      status: 'completed',
      output: [{ type: { text: 'renewed prescription' }, valueReference: { reference: `MedicationRequest/${renewed.body.id}` } }],
    });
    expect(done.status).toBe(200);
    const seen = await call('GET', `/fhir/Task/${task.id}`, 'ada');
    expect(seen.body.output[0].valueReference.reference).toBe(`MedicationRequest/${renewed.body.id}`);
    expect((await call('PUT', `/fhir/Task/${task.id}`, 'ada', { ...seen.body, status: 'cancelled' })).status).toBe(403);
    // Once answered, the medication may be asked for again.
    expect((await call('POST', '/fhir/Task', 'ada', renewal(atorvastatin))).status).toBe(201);
  });

  test("a stopped or completed prescription, someone else's, or any other Task is refused; the practice declines with a reason", async () => {
    const [stopped] = await meds('stopped');
    const refused = await call('POST', '/fhir/Task', 'ada', renewal(stopped));
    expect(refused.status).toBe(400);
    expect(texts(refused.body)).toEqual([
      `Task.focus: Only an active prescription is renewed; MedicationRequest/${stopped.id} is stopped: ask your provider in a message`,
    ]);
    const [completed] = await meds('completed');
    expect((await call('POST', '/fhir/Task', 'ada', renewal(completed))).status).toBe(400);
    const { resource: samsMed } = await f.system.create<MedicationRequest>({
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      subject: patient('sam'),
      medicationCodeableConcept: { text: 'Insulin' },
    });
    const notHers = await call('POST', '/fhir/Task', 'ada', renewal(samsMed));
    expect(texts(notHers.body)).toEqual([
      `Task.focus: Task.focus names MedicationRequest/${samsMed.id}, which is not a prescription of this patient`,
    ]);
    const other = await call('POST', '/fhir/Task', 'ada', { ...renewal(stopped), code: { text: 'Please call me' } });
    expect(texts(other.body)[0]).toMatch(/^Task\.code: From the portal a Task is a prescription renewal request/);

    const [epinephrine] = (await meds('active')).filter((m) => /Epinephrine/i.test(JSON.stringify(m.medicationCodeableConcept)));
    const task = (await call('POST', '/fhir/Task', 'ada', renewal(epinephrine))).body as Task;
    expect((await call('PUT', `/fhir/Task/${task.id}`, 'staff', { ...task, status: 'rejected' })).status).toBe(400);
    const declined = await call('PUT', `/fhir/Task/${task.id}`, 'staff', {
      ...task,
      status: 'rejected',
      statusReason: { text: 'Please book a visit first' },
    });
    expect(declined.status).toBe(200);
  });

  test('renewals from a prescriber not taking part in the portal are refused', async () => {
    const [lisinopril] = (await meds('active')).filter((m) => /lisinopril/i.test(JSON.stringify(m.medicationCodeableConcept)));
    const prescriber = lisinopril.requester!.reference!.split('/')[1];
    const current = await f.system.read<Practitioner>('Practitioner', prescriber);
    await f.system.update<Practitioner>(notInPortal(current));
    try {
      const refused = await call('POST', '/fhir/Task', 'ada', renewal(lisinopril));
      expect(refused.status).toBe(400);
      expect(texts(refused.body)[0]).toMatch(/^Task\.focus: The prescriber of this medication .*does not take part in the patient portal/);
    } finally {
      const changed = await f.system.read<Practitioner>('Practitioner', prescriber);
      await f.system.update<Practitioner>({ ...current, meta: changed.meta });
    }
  });
});

describe('issue 17 messaging, finished', () => {
  const toPractice = (code: string, extra: object = {}) => ({
    resourceType: 'Communication',
    status: 'completed',
    subject: patient('cara'),
    topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code }] },
    recipient: [{ reference: `Organization/${f.organizationIds.westside}` }],
    payload: [{ contentString: 'Is the March statement paid?' }],
    ...extra,
  });

  test('a billing-only family member may write to the practice with the billing subject only', async () => {
    const sent = await call(
      'POST',
      '/fhir/Communication',
      'ada',
      toPractice('billing', { sender: { reference: `RelatedPerson/${f.relatedPersons.adaForCara}` } }),
    );
    expect(sent.status).toBe(201);
    const medical = await call('POST', '/fhir/Communication', 'ada', toPractice('medical-question'));
    expect(medical.status).toBe(400);
    expect(texts(medical.body)).toEqual([
      expect.stringMatching(/^Communication\.topic: With access to the bills only, a message is about the bills/),
    ]);
    const toDoctor = await call(
      'POST',
      '/fhir/Communication',
      'ada',
      toPractice('billing', { recipient: [{ reference: `Practitioner/${maya.id}` }] }),
    );
    expect(texts(toDoctor.body)).toEqual([
      expect.stringMatching(
        /^Communication\.recipient\[0\]: With access to the bills only, a message goes to the practice's billing office/,
      ),
    ]);
    // Nor may she read Cara's messages for all that.
    expect((await call('GET', `/fhir/Communication/${sent.body.id}`, 'ada')).status).toBe(404);
  });
});

describe('issue 17 personal information', () => {
  const put = async (caller: CallerKey, body: Patient, ifMatch?: string) =>
    call('PUT', `/fhir/Patient/${body.id}`, caller, body, ifMatch ? { 'If-Match': ifMatch } : {});
  const adaNow = () => f.system.read<Patient>('Patient', f.patientIds.ada);

  test('Ada changes her phone directly (If-Match needed); other fields are refused by name; Dan may not change her record', async () => {
    const ada = await adaNow();
    const phone = { system: 'phone' as const, value: '(206) 555-0177', use: 'mobile' as const };
    const noMatch = await put('ada', { ...ada, telecom: [phone] });
    expect(texts(noMatch.body)).toEqual([expect.stringMatching(/^Patient\.meta\.versionId: Changing your details needs If-Match/)]);
    const changed = await put(
      'ada',
      { ...ada, telecom: [phone], communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'es' }] }, preferred: true }] },
      `W/"${ada.meta!.versionId}"`,
    );
    expect(changed.status).toBe(200);
    expect((await adaNow()).telecom).toEqual([phone]);

    const current = await adaNow();
    const tag = `W/"${current.meta!.versionId}"`;
    const refused = await put('ada', { ...current, birthDate: '1984-01-01', active: false }, tag);
    expect(refused.status).toBe(400);
    expect(texts(refused.body)).toEqual([
      'Patient.active: Patient.active cannot be changed from the portal; you may change telecom, address, communication and contact',
      expect.stringMatching(/^Patient\.birthDate: Patient\.birthDate is changed by the practice after review: send the change as a Task/),
    ]);
    expect((await put('dan', { ...current, telecom: [] }, tag)).status).toBe(403);
    expect((await adaNow()).meta!.versionId).toBe(current.meta!.versionId);
  });

  test('a birth date change is a Task for staff review, applied to the record by staff before it is completed', async () => {
    const ada = await adaNow();
    const corrected = `${ada.birthDate!.slice(0, 8)}${ada.birthDate!.slice(8) === '14' ? '15' : '14'}`;
    const change = {
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      for: patient(),
      focus: patient(),
      code: { coding: [{ system: PORTAL_REQUEST_TYPE_SYSTEM, code: 'profile-change' }] },
      input: [{ type: { coding: [{ code: 'birthDate' }] }, valueDate: corrected }],
    };
    expect(
      texts((await call('POST', '/fhir/Task', 'ada', { ...change, input: [{ type: { text: 'ssn' }, valueString: '123' }] })).body)[0],
    ).toMatch(/^Task\.input\[0\]\.type: .*names ssn/);
    expect((await call('POST', '/fhir/Task', 'dan', change)).status).toBe(400);
    const asked = await call('POST', '/fhir/Task', 'ada', change);
    expect(asked.status).toBe(201);
    const task = asked.body as Task;
    const early = await call('PUT', `/fhir/Task/${task.id}`, 'staff', { ...task, status: 'completed' });
    expect(texts(early.body)).toEqual([
      'Task.status: Apply the change to the Patient before completing the request: it does not hold the requested birthDate yet',
    ]);
    expect((await adaNow()).birthDate).toBe(ada.birthDate);
    expect((await call('PUT', `/fhir/Patient/${ada.id}`, 'staff', { ...(await adaNow()), birthDate: corrected })).status).toBe(200);
    expect((await call('PUT', `/fhir/Task/${task.id}`, 'staff', { ...task, status: 'completed' })).status).toBe(200);
    expect((await adaNow()).birthDate).toBe(corrected);
    await f.system.update<Patient>({ ...(await adaNow()), birthDate: ada.birthDate });
  });
});
