/**
 * Issue 24's record leaks, on the demo family: versions filed in another record (item 1), resources in several
 * patients' compartments (item 2), the activity history naming what it may not (item 12), and records entered in
 * error (item 16). Each reads as the callers of the access matrix and checks that reading changed nothing.
 */
import type {
  Appointment,
  AuditEvent,
  Binary,
  Bundle,
  ChargeItem,
  Condition,
  DocumentReference,
  Encounter,
  Immunization,
  Observation,
  Resource,
} from '@medplum/fhirtypes';
import { type AccessFamily, type CallerKey, matches, type PatientKey, startAccessFamily } from './support/access-family';
import { recordState } from './support/record-state';

type Caller = CallerKey | 'operator';

let f: AccessFamily;
beforeAll(async () => {
  f = await startAccessFamily('westmed');
});
afterAll(() => f?.close());

const patient = (key: PatientKey) => ({ reference: `Patient/${f.patientIds[key]}` });
const tokenOf = async (caller: Caller) => (caller === 'operator' ? f.app.staffToken : f.token(caller));

async function get(caller: Caller, path: string): Promise<{ status: number; body?: any }> {
  const res = await f.app.request(`/fhir/${path}`, { token: await tokenOf(caller) });
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? await res.json() : undefined };
}

/** Each caller's status for one path. */
async function statuses(path: string, callers: readonly Caller[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const caller of callers) out[caller] = (await get(caller, path)).status;
  return out;
}

/** The ids a search (all matches, one page of up to 1000) finds for the caller. */
async function found(caller: Caller, query: string): Promise<string[]> {
  const { status, body } = await get(caller, `${query}${query.includes('?') ? '&' : '?'}_count=1000`);
  if (status !== 200) throw new Error(`${query} as ${caller}: ${status}`);
  return matches(body as Bundle).map((r) => `${r.resourceType}/${r.id}`);
}

async function everythingOf(caller: Caller, key: PatientKey): Promise<string[]> {
  const { body } = await get(caller, `Patient/${f.patientIds[key]}/$everything`);
  return ((body as Bundle).entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);
}

/** The etags of one resource's entries in a history bundle. */
function versionsIn(bundle: Bundle, id: string): string[] {
  return (bundle.entry ?? []).filter((e) => e.fullUrl?.endsWith(`/${id}`)).map((e) => e.response!.etag!);
}

async function write<T extends Resource>(resource: T): Promise<T & { id: string }> {
  return (await f.system.create<T>(resource)).resource as T & { id: string };
}

describe('item 1: history versions from another record', () => {
  it('serves each version only to those who may see the record it was in (vread, instance and type history)', async () => {
    const operator = f.app.staffToken;
    const posted = await f.app.request('/fhir/Observation', {
      method: 'POST',
      token: operator,
      json: {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Mood' },
        subject: patient('cara'),
        valueString: 'Cara’s private answer',
      },
    });
    const first = (await posted.json()) as Observation;
    const put = await f.app.request(`/fhir/Observation/${first.id}`, {
      method: 'PUT',
      token: operator,
      json: { ...first, subject: patient('ada'), valueString: 'Ada’s answer' },
    });
    expect([posted.status, put.status]).toEqual([201, 200]);
    const id = first.id!;
    const before = await recordState(f.app.database);

    for (const caller of ['ada', 'dan'] as const) {
      expect(await statuses(`Observation/${id}`, [caller])).toEqual({ [caller]: 200 });
      expect(await statuses(`Observation/${id}/_history/1`, [caller])).toEqual({ [caller]: 404 });
      expect((await get(caller, `Observation/${id}/_history/2`)).body.valueString).toBe('Ada’s answer');
      expect(versionsIn((await get(caller, `Observation/${id}/_history`)).body, id)).toEqual(['W/"2"']);
      expect(versionsIn((await get(caller, 'Observation/_history?_count=1000')).body, id)).toEqual(['W/"2"']);
      expect(versionsIn((await get(caller, '_history?_count=1000')).body, id)).toEqual(['W/"2"']);
    }
    expect(await statuses(`Observation/${id}/_history/1`, ['cara', 'otherStaff', 'staff', 'operator'])).toEqual({
      cara: 404,
      otherStaff: 404,
      staff: 200,
      operator: 200,
    });
    expect(await statuses(`Observation/${id}/_history`, ['cara', 'otherStaff'])).toEqual({ cara: 404, otherStaff: 404 });
    expect(versionsIn((await get('staff', `Observation/${id}/_history`)).body, id)).toEqual(['W/"2"', 'W/"1"']);
    expect(await recordState(f.app.database)).toEqual(before);
  });

  it('staff see the versions filed in their organisation’s records only: a record moved to another practice’s patient', async () => {
    const { id } = await write<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Weight' },
      subject: patient('ada'),
      valueQuantity: { value: 61, unit: 'kg' },
    });
    const stored = await f.system.read<Observation>('Observation', id);
    await f.system.update<Observation>({ ...stored, subject: patient('sam') });
    const before = await recordState(f.app.database);
    expect(await statuses(`Observation/${id}/_history/1`, ['ada', 'staff', 'otherStaff', 'sam'])).toEqual({
      ada: 404,
      staff: 404,
      otherStaff: 404,
      sam: 404,
    });
    expect(await statuses(`Observation/${id}/_history/2`, ['ada', 'staff', 'otherStaff', 'sam'])).toEqual({
      ada: 404,
      staff: 404,
      otherStaff: 200,
      sam: 200,
    });
    expect(versionsIn((await get('otherStaff', `Observation/${id}/_history`)).body, id)).toEqual(['W/"2"']);
    expect(versionsIn((await get('otherStaff', 'Observation/_history?_count=1000')).body, id)).toEqual(['W/"2"']);
    expect(versionsIn((await get('otherStaff', '_history?_count=1000')).body, id)).toEqual(['W/"2"']);
    expect(versionsIn((await get('staff', '_history?_count=1000')).body, id)).toEqual([]);
    expect(await recordState(f.app.database)).toEqual(before);
  });
});

describe('item 2: a resource in several patients’ compartments belongs to its subject’s record', () => {
  let condition: string;
  let performed: string;
  let appointment: string;
  beforeAll(async () => {
    condition = (
      await write<Condition>({
        resourceType: 'Condition',
        code: { text: 'Cara’s private diagnosis' },
        subject: patient('cara'),
        asserter: patient('ada'),
      })
    ).id;
    performed = (
      await write<Observation>({
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Sam’s test' },
        subject: patient('sam'),
        performer: [patient('ada')],
      })
    ).id;
    appointment = (
      await write<Appointment>({
        resourceType: 'Appointment',
        status: 'booked',
        start: '2026-05-01T16:00:00Z',
        end: '2026-05-01T17:00:00Z',
        reasonCode: [{ text: 'Family counselling' }],
        participant: [
          { actor: patient('cara'), status: 'accepted' },
          { actor: patient('ada'), status: 'accepted' },
        ],
      })
    ).id;
  });

  it('is read only by those who may see the subject’s record: another link gives nothing more', async () => {
    const before = await recordState(f.app.database);
    const callers = ['ada', 'dan', 'cara', 'sam', 'staff', 'otherStaff'] as const;
    expect(await statuses(`Condition/${condition}`, callers)).toEqual({
      ada: 404,
      dan: 404,
      cara: 200,
      sam: 404,
      staff: 200,
      otherStaff: 404,
    });
    expect(await statuses(`Observation/${performed}`, callers)).toEqual({
      ada: 404,
      dan: 404,
      cara: 404,
      sam: 200,
      staff: 404,
      otherStaff: 200,
    });
    // In Cara's and Ada's records: Ada holds only billing of Cara's (no appointments), Cara nothing of Ada's.
    expect(await statuses(`Appointment/${appointment}`, callers)).toEqual({
      ada: 404,
      dan: 404,
      cara: 404,
      sam: 404,
      staff: 200,
      otherStaff: 404,
    });
    expect(await recordState(f.app.database)).toEqual(before);
  });

  it('is not found through the other link by search, _revinclude or $everything', async () => {
    const ada = `Patient/${f.patientIds.ada}`;
    for (const caller of ['ada', 'dan'] as const) {
      expect(await found(caller, `Condition?asserter=${ada}`)).toEqual([]);
      expect(await found(caller, `Observation?performer=${ada}`)).toEqual([]);
      expect(await found(caller, `Appointment?actor=${ada}`)).not.toContain(`Appointment/${appointment}`);
      expect(await found(caller, `Patient?_id=${f.patientIds.ada}&_revinclude=Condition:asserter&_revinclude=Appointment:actor`)).toEqual([
        ada,
      ]);
      const everything = await everythingOf(caller, 'ada');
      expect(
        everything.filter((r) => [`Condition/${condition}`, `Observation/${performed}`, `Appointment/${appointment}`].includes(r)),
      ).toEqual([]);
    }
    expect(await found('staff', `Observation?performer=${ada}`)).toEqual([]);
    expect(await found('staff', `Condition?asserter=${ada}`)).toEqual([`Condition/${condition}`]);
    // $everything is the patient's record: the Appointment is Ada's too, the Condition is Cara's alone.
    const adaRecord = await everythingOf('staff', 'ada');
    expect([adaRecord.includes(`Appointment/${appointment}`), adaRecord.includes(`Condition/${condition}`)]).toEqual([true, false]);
    expect((await everythingOf('staff', 'cara')).includes(`Condition/${condition}`)).toBe(true);
  });
});

describe('item 12: AuditEvents a patient reads name only what she may see', () => {
  it('names an entity she may not see by its type alone, in search, read and history; staff see every reference', async () => {
    const hiddenDoc = `DocumentReference/${f.rows.ada['DocumentReference (unreleased)']}`;
    const releasedDoc = `DocumentReference/${f.rows.ada['DocumentReference (released)']}`;
    const caras = `Condition/${(await write<Condition>({ resourceType: 'Condition', code: { text: 'Cara’s' }, subject: patient('cara'), asserter: patient('ada') })).id}`;
    for (const path of [hiddenDoc, releasedDoc, caras]) expect((await get('staff', path)).status).toBe(200);
    const before = await recordState(f.app.database);

    const entitiesIn = (events: Resource[]) => (events as AuditEvent[]).flatMap((e) => e.entity ?? []).map((x) => x.what);
    const search = `AuditEvent?patient=Patient/${f.patientIds.ada}&_count=1000`;
    const staffSees = entitiesIn(matches((await get('staff', search)).body));
    expect(staffSees).toEqual(expect.arrayContaining([{ reference: hiddenDoc }, { reference: releasedDoc }, { reference: caras }]));
    for (const caller of ['ada', 'dan'] as const) {
      const events = matches((await get(caller, search)).body) as AuditEvent[];
      const seen = entitiesIn(events);
      expect(seen).toContainEqual({ reference: releasedDoc });
      expect(seen).toEqual(expect.arrayContaining([{ type: 'DocumentReference' }, { type: 'Condition' }]));
      const references = seen.map((w) => w?.reference);
      expect([references.includes(hiddenDoc), references.includes(caras)]).toEqual([false, false]);
      const naming = events.find((e) => JSON.stringify(e).includes('"type":"Condition"'))!;
      const read = (await get(caller, `AuditEvent/${naming.id}`)).body as AuditEvent;
      expect(entitiesIn([read])).toEqual(entitiesIn([naming]));
      const history = (await get(caller, `AuditEvent/${naming.id}/_history`)).body as Bundle;
      expect(entitiesIn(history.entry!.map((e) => e.resource!))).toEqual(entitiesIn([naming]));
      expect(JSON.stringify((await get(caller, `AuditEvent/${naming.id}/_history/1`)).body)).not.toContain(caras);
    }
    expect(await recordState(f.app.database)).toEqual(before);
  });
});

describe('item 16: records entered in error are hidden from patients and family', () => {
  it('a DocumentReference entered in error is hidden even with docStatus final, and its file with it', async () => {
    const doc = await write<DocumentReference>({
      resourceType: 'DocumentReference',
      status: 'entered-in-error',
      docStatus: 'final',
      subject: patient('ada'),
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('Filed on the wrong patient').toString('base64') } }],
    });
    const file = await write<Binary>({
      resourceType: 'Binary',
      contentType: 'text/plain',
      data: Buffer.from('x').toString('base64'),
      securityContext: { reference: `DocumentReference/${doc.id}` },
    });
    const before = await recordState(f.app.database);
    const callers = ['ada', 'dan', 'staff'] as const;
    expect(await statuses(`DocumentReference/${doc.id}`, callers)).toEqual({ ada: 404, dan: 404, staff: 200 });
    expect(await statuses(`Binary/${file.id}`, callers)).toEqual({ ada: 404, dan: 404, staff: 200 });
    for (const caller of ['ada', 'dan'] as const) {
      expect(await found(caller, `DocumentReference?patient=${f.patientIds.ada}`)).not.toContain(`DocumentReference/${doc.id}`);
      expect(await everythingOf(caller, 'ada')).not.toContain(`DocumentReference/${doc.id}`);
    }
    expect(await recordState(f.app.database)).toEqual(before);
  });

  it('so is every other type with an entered-in-error status, and a version entered in error and corrected since', async () => {
    const error = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'entered-in-error' }] };
    const hidden = [
      await write<Condition>({
        resourceType: 'Condition',
        code: { text: 'Wrong chart' },
        subject: patient('ada'),
        verificationStatus: error,
      }),
      await write<Immunization>({
        resourceType: 'Immunization',
        status: 'entered-in-error',
        vaccineCode: { text: 'Flu' },
        patient: patient('ada'),
        occurrenceDateTime: '2026-01-05',
      }),
      await write<Encounter>({ resourceType: 'Encounter', status: 'entered-in-error', class: { code: 'AMB' }, subject: patient('ada') }),
    ];
    const charge = await write<ChargeItem>({
      resourceType: 'ChargeItem',
      status: 'entered-in-error',
      code: { text: 'Visit' },
      subject: patient('cara'),
    });
    const corrected = await write<Condition>({
      resourceType: 'Condition',
      code: { text: 'Asthma' },
      subject: patient('ada'),
      verificationStatus: error,
    });
    await f.system.update<Condition>({
      ...corrected,
      verificationStatus: { coding: [{ system: error.coding[0].system, code: 'confirmed' }] },
    });
    const before = await recordState(f.app.database);
    for (const resource of hidden) {
      expect(await statuses(`${resource.resourceType}/${resource.id}`, ['ada', 'dan', 'staff'])).toEqual({
        ada: 404,
        dan: 404,
        staff: 200,
      });
      expect(await found('ada', `${resource.resourceType}?patient=${f.patientIds.ada}`)).not.toContain(
        `${resource.resourceType}/${resource.id}`,
      );
    }
    // Ada holds Cara's billing: a billed ChargeItem she sees (reduced), one entered in error she does not.
    expect(await statuses(`ChargeItem/${f.rows.cara.ChargeItem}`, ['ada'])).toEqual({ ada: 200 });
    expect(await statuses(`ChargeItem/${charge.id}`, ['ada', 'cara', 'staff'])).toEqual({ ada: 404, cara: 404, staff: 200 });
    expect(await statuses(`Condition/${corrected.id}/_history/1`, ['ada', 'staff'])).toEqual({ ada: 404, staff: 200 });
    expect(await statuses(`Condition/${corrected.id}/_history/2`, ['ada'])).toEqual({ ada: 200 });
    expect(versionsIn((await get('ada', `Condition/${corrected.id}/_history`)).body, corrected.id)).toEqual(['W/"2"']);
    expect(await recordState(f.app.database)).toEqual(before);
  });
});
