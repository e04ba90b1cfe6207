/**
 * Access enforcement beyond single reads: _include/_revinclude, search parameters a reduced view hides, paging,
 * history, $everything, Binary content and release, the audit trail, revocation and disabled accounts, the CLI
 * operator, and write rules. Westmed policy, on the demo family at T0 (Ben 9, Cara 15; Ada holds full on Ben and
 * billing on Cara; Dan holds full on Ada).
 */
import { validateResource } from '@medplum/core';
import type {
  AuditEvent,
  Bundle,
  CapabilityStatement,
  Communication,
  DocumentReference,
  Observation,
  OperationOutcome,
  Patient,
  Practitioner,
  Resource,
} from '@medplum/fhirtypes';
import { MESSAGE_SUBJECT_SYSTEM } from '../src/portal/messaging/message-rules';
import { revokeGrant } from '../src/fhir/proxy-grant-store';
import { signAccessToken } from '../src/auth/access-token';
import { AccessFamily, CallerKey, matches, startAccessFamily, T0 } from './support/access-family';

let f: AccessFamily;
beforeAll(async () => {
  f = await startAccessFamily('westmed');
});
afterAll(() => f?.close());
beforeEach(() => f.clock.set(T0));

async function get(caller: CallerKey, path: string): Promise<{ status: number; body: any }> {
  const res = await f.app.request(path, { token: await f.token(caller) });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

async function search(caller: CallerKey, query: string): Promise<Bundle> {
  const res = await get(caller, `/fhir/${query}`);
  expect(res.status).toBe(200);
  return res.body as Bundle;
}

const refs = (bundle: Bundle, mode?: 'match' | 'include'): string[] =>
  (bundle.entry ?? [])
    .filter((e) => !mode || e.search?.mode === mode)
    .map((e) => `${e.resource!.resourceType}/${e.resource!.id}`)
    .sort();

const demoOf = (patient: 'ada' | 'ben' | 'cara', type: string, where: (r: any) => boolean = () => true): Resource[] =>
  (f.demo.get(patient) ?? []).filter((r) => r.resourceType === type && where(r));

describe('_include and _revinclude cannot reach past a billing view', () => {
  test('Patient?_revinclude=Observation:patient gives Ada her daughter’s minimal Patient and no Observation', async () => {
    const bundle = await search('ada', `Patient?_id=${f.patientIds.cara}&_revinclude=Observation:patient&_revinclude=Appointment:patient`);
    expect(refs(bundle)).toEqual([`Patient/${f.patientIds.cara}`]);
    expect(Object.keys(bundle.entry![0].resource!).sort()).toEqual(['birthDate', 'id', 'meta', 'name', 'resourceType']);
    const staff = await search('staff', `Patient?_id=${f.patientIds.cara}&_revinclude=Observation:patient`);
    expect(refs(staff, 'include')).toHaveLength(demoOf('cara', 'Observation').length);
  });

  test('Invoice?_include=Invoice:subject includes the minimal Patient; Invoice:participant stays in scope', async () => {
    const bundle = await search('ada', `Invoice?subject=Patient/${f.patientIds.cara}&_include=Invoice:subject`);
    expect(refs(bundle, 'match')).toEqual(
      demoOf('cara', 'Invoice')
        .map((r) => `Invoice/${r.id}`)
        .sort(),
    );
    const included = bundle.entry!.filter((e) => e.search?.mode === 'include').map((e) => e.resource as Patient);
    expect(included.map((p) => [p.id, p.gender, p.address])).toEqual([[f.patientIds.cara, undefined, undefined]]);
  });

  test('a reverse include through a field the reduced Patient hides (general-practitioner) leaves Cara out', async () => {
    const mine = await search('ada', 'Practitioner?_revinclude=Patient:general-practitioner');
    expect(refs(mine, 'include')).toEqual([`Patient/${f.patientIds.ada}`, `Patient/${f.patientIds.ben}`].sort());
    const staff = await search('staff', 'Practitioner?_revinclude=Patient:general-practitioner');
    expect(refs(staff, 'include')).toEqual(
      [`Patient/${f.patientIds.ada}`, `Patient/${f.patientIds.ben}`, `Patient/${f.patientIds.cara}`].sort(),
    );
  });

  test('ChargeItem?_include=ChargeItem:context drops the billing-only records from that search', async () => {
    const bundle = await search('ada', 'ChargeItem?_include=ChargeItem:context&_count=1000');
    const patients = new Set(matches(bundle).map((c) => (c as { subject?: { reference?: string } }).subject?.reference));
    expect([...patients].sort()).toEqual([`Patient/${f.patientIds.ada}`, `Patient/${f.patientIds.ben}`].sort());
    const plain = await search('ada', 'ChargeItem?_count=1000');
    expect(
      matches(plain).filter((c) => (c as { subject?: { reference?: string } }).subject?.reference === `Patient/${f.patientIds.cara}`),
    ).toHaveLength(demoOf('cara', 'ChargeItem').length + 1);
  });
});

describe('search parameters a reduced view hides', () => {
  test('filtering or sorting on a hidden field leaves the billing-only record out; allowed fields do not', async () => {
    const ids = (b: Bundle) =>
      matches(b)
        .map((r) => r.id)
        .sort();
    const family = [f.patientIds.ada, f.patientIds.ben, f.patientIds.cara].sort();
    expect(ids(await search('ada', 'Patient?gender=female'))).toEqual([f.patientIds.ada]);
    expect(ids(await search('staff', 'Patient?gender=female'))).toEqual([f.patientIds.ada, f.patientIds.cara].sort());
    expect(ids(await search('ada', 'Patient?_sort=gender'))).toEqual([f.patientIds.ada, f.patientIds.ben].sort());
    expect(ids(await search('ada', 'Patient?address-postalcode=98107'))).toEqual([f.patientIds.ada, f.patientIds.ben].sort());
    expect(ids(await search('ada', 'Patient?birthdate=lt2026-01-01&_sort=birthdate'))).toEqual(family);
    expect(ids(await search('ada', 'Patient?family=Park'))).toEqual(family);
  });

  test('paging: totals and next links count only what the caller may see', async () => {
    const expected = [...demoOf('ada', 'Invoice'), ...demoOf('ben', 'Invoice'), ...demoOf('cara', 'Invoice')].map((r) => r.id).sort();
    let bundle = await search('ada', 'Invoice?_count=2&_total=accurate');
    expect(bundle.total).toBe(expected.length);
    const seen: string[] = [];
    for (;;) {
      seen.push(...matches(bundle).map((r) => r.id!));
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      bundle = (await get('ada', next.replace(f.app.url, ''))).body;
    }
    expect(seen.sort()).toEqual(expected);

    const visibleObservations =
      demoOf('ada', 'Observation', (o: Observation) => o.status === 'final').length + demoOf('ben', 'Observation').length;
    const page = await search('ada', 'Observation?_count=5&_total=accurate');
    expect(page.total).toBe(visibleObservations);
    expect(demoOf('ada', 'Observation', (o: Observation) => o.status !== 'final').length).toBeGreaterThan(0);
  });
});

describe('history, vread and $everything', () => {
  test('history of a billing-only record: the Invoice yes, the Observation no, the Patient reduced', async () => {
    const caraObservation = f.rows.cara.Observation!;
    expect((await get('ada', `/fhir/Observation/${caraObservation}/_history`)).status).toBe(404);
    expect((await get('ada', `/fhir/Observation/${caraObservation}/_history/1`)).status).toBe(404);
    const invoice = await get('ada', `/fhir/Invoice/${f.rows.cara.Invoice}/_history`);
    expect(invoice.status).toBe(200);
    expect(invoice.body.entry).toHaveLength(1);
    const patient = await get('ada', `/fhir/Patient/${f.patientIds.cara}/_history`);
    expect(patient.body.entry.map((e: { resource: Patient }) => e.resource.gender)).toEqual([undefined]);
    const typeHistory = (await get('ada', '/fhir/Observation/_history?_count=1000')).body as Bundle;
    const caraIds = new Set(demoOf('cara', 'Observation').map((r) => r.id));
    expect(typeHistory.entry!.filter((e) => caraIds.has(e.resource?.id))).toEqual([]);
    expect(typeHistory.entry!.length).toBeGreaterThan(0);
  });

  test('C-CDA documents need full access: Ada gets Ben’s, not Cara’s (billing); strangers get 404', async () => {
    expect((await get('ada', `/fhir/Patient/${f.patientIds.ben}/$ccda`)).status).toBe(200);
    const cara = await get('ada', `/fhir/Patient/${f.patientIds.cara}/$ccda`);
    expect(cara.status).toBe(403);
    expect(cara.body.issue[0].details.text).toMatch(/full access/);
    expect((await get('ada', `/fhir/DocumentReference/$docref?patient=${f.patientIds.cara}&on-demand=true`)).status).toBe(403);
    expect((await get('cara', `/fhir/Patient/${f.patientIds.cara}/$ccda`)).status).toBe(200);
    expect((await get('sam', `/fhir/Patient/${f.patientIds.ada}/$ccda`)).status).toBe(404);
  });

  test('$everything: billing types only for Cara; Ada’s own record without unreleased results; staff sees all', async () => {
    const cara = (await get('ada', `/fhir/Patient/${f.patientIds.cara}/$everything`)).body as Bundle;
    // Plus the practice and doctors the bills name (shared, non-patient resources).
    expect([...new Set(cara.entry!.map((e) => e.resource!.resourceType))].sort()).toEqual([
      'Account',
      'ChargeItem',
      'Coverage',
      'Invoice',
      'Organization',
      'Patient',
      'Practitioner',
    ]);
    expect((cara.entry!.find((e) => e.resource!.resourceType === 'Patient')!.resource as Patient).gender).toBeUndefined();

    const own = (await get('ada', `/fhir/Patient/${f.patientIds.ada}/$everything`)).body as Bundle;
    const ownRefs = refs(own);
    expect(ownRefs).toContain(`DocumentReference/${f.rows.ada['DocumentReference (released)']}`);
    for (const hidden of [
      'DocumentReference (unreleased)',
      'Binary (unreleased)',
      'Observation (preliminary)',
      'DiagnosticReport (preliminary)',
    ] as const) {
      expect(ownRefs).not.toContain(`${hidden.split(' ')[0]}/${f.rows.ada[hidden]}`);
    }
    expect(own.entry!.filter((e) => e.resource!.resourceType === 'AuditEvent')).toEqual([]);
    const staff = refs((await get('staff', `/fhir/Patient/${f.patientIds.ada}/$everything`)).body as Bundle);
    expect(staff).toContain(`DocumentReference/${f.rows.ada['DocumentReference (unreleased)']}`);
    expect(staff).toContain(`Observation/${f.rows.ada['Observation (preliminary)']}`);
    expect((await get('sam', `/fhir/Patient/${f.patientIds.ada}/$everything`)).status).toBe(404);
    expect((await get('otherStaff', `/fhir/Patient/${f.patientIds.ada}/$everything`)).status).toBe(404);
  });
});

describe('documents and their content follow release', () => {
  test('the unreleased lab report and its Binary appear for Ada when Dr. Chen releases it', async () => {
    const docId = f.rows.ada['DocumentReference (unreleased)']!;
    const binaryId = f.rows.ada['Binary (unreleased)']!;
    expect((await get('ada', `/fhir/Binary/${binaryId}`)).status).toBe(404);
    expect((await get('dan', `/fhir/DocumentReference/${docId}`)).status).toBe(404);
    const staffBinary = await get('staff', `/fhir/Binary/${binaryId}`);
    expect(staffBinary.body).toContain('LABORATORY REPORT (PRELIMINARY');

    const doc = await f.system.read<DocumentReference>('DocumentReference', docId);
    const staffToken = await f.token('staff');
    const released = await f.app.request(`/fhir/DocumentReference/${docId}`, {
      method: 'PUT',
      token: staffToken,
      json: { ...doc, docStatus: 'final' },
    });
    expect(released.status).toBe(200);
    expect((await get('ada', `/fhir/DocumentReference/${docId}`)).status).toBe(200);
    expect((await get('ada', `/fhir/Binary/${binaryId}`)).body).toContain('LABORATORY REPORT');
    // The preliminary draft stays hidden: its version is not in Ada's history, nor readable by version.
    const history = (await get('ada', `/fhir/DocumentReference/${docId}/_history`)).body as Bundle;
    expect(history.entry!.map((e) => [e.response?.etag, (e.resource as DocumentReference).docStatus])).toEqual([['W/"2"', 'final']]);
    expect((await get('ada', `/fhir/DocumentReference/${docId}/_history/1`)).status).toBe(404);
    expect((await get('staff', `/fhir/DocumentReference/${docId}/_history/1`)).status).toBe(200);
    // The results inside it are still preliminary until they are released themselves.
    expect((await get('ada', `/fhir/Observation/${f.rows.ada['Observation (preliminary)']}`)).status).toBe(404);
    await f.system.update({ ...(await f.system.read<DocumentReference>('DocumentReference', docId)), docStatus: 'preliminary' });
    expect((await get('ada', `/fhir/Binary/${binaryId}`)).status).toBe(404);
  });
});

describe('the activity history (AuditEvent)', () => {
  async function auditOf(caller: CallerKey, patient: 'ada' | 'ben'): Promise<AuditEvent[]> {
    return matches(await search(caller, `AuditEvent?patient=Patient/${f.patientIds[patient]}&_count=1000&_sort=-date`)) as AuditEvent[];
  }

  test('Dan’s read of Ada’s Observation is in Ada’s activity history; Ada’s own reads are not', async () => {
    f.clock.set('2026-03-01T20:05:00Z');
    expect((await get('ada', `/fhir/Observation/${f.rows.ada.Observation}`)).status).toBe(200);
    expect((await search('ada', `Observation?patient=Patient/${f.patientIds.ada}`)).entry?.length).toBeGreaterThan(0);
    // Ada's own reads add nothing to her history.
    const afterOwn = (await auditOf('ada', 'ada')).filter((e) => e.agent?.[0]?.altId === f.accountIds.ada);
    expect(afterOwn).toEqual([]);

    f.clock.set('2026-03-01T20:06:00Z');
    expect((await get('dan', `/fhir/Observation/${f.rows.ada.Observation}`)).status).toBe(200);
    const events = (await auditOf('ada', 'ada')).filter((e) => e.agent?.[0]?.altId === f.accountIds.dan);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({
      action: 'R',
      recorded: '2026-03-01T20:06:00.000Z',
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }],
      agent: [{ who: { reference: `RelatedPerson/${f.relatedPersons.danForAda}` }, altId: f.accountIds.dan, requestor: true }],
    });
    expect(event.entity!.map((e) => e.what?.reference)).toEqual([`Patient/${f.patientIds.ada}`, `Observation/${f.rows.ada.Observation}`]);
    expect(() => validateResource(event)).not.toThrow();
    // Cara and strangers never see Ada's activity history.
    expect(await auditOf('cara', 'ada')).toEqual([]);
    expect(await auditOf('sam', 'ada')).toEqual([]);
  });

  test('one request, several records: each patient’s event names only that patient’s resources', async () => {
    f.clock.set('2026-03-01T20:10:00Z');
    const ids = [f.rows.ada.Observation, f.rows.ben.Observation].join(',');
    expect(matches(await search('staff', `Observation?_id=${ids}`))).toHaveLength(2);
    for (const [patient, observation] of [
      ['ada', f.rows.ada.Observation],
      ['ben', f.rows.ben.Observation],
    ] as const) {
      // (Reading the log is itself logged: pick the event of the Observation search.)
      const [event] = (await auditOf('staff', patient)).filter(
        (e) => e.recorded === '2026-03-01T20:10:00.000Z' && e.entity!.some((x) => x.what?.reference?.startsWith('Observation/')),
      );
      expect(event).toMatchObject({ action: 'R', subtype: [{ code: 'search-type' }] });
      expect(event.entity!.map((e) => e.what?.reference)).toEqual([`Patient/${f.patientIds[patient]}`, `Observation/${observation}`]);
    }
  });

  test('Ada acting for Ben: her writes and $everything are logged in Ben’s history under her RelatedPerson', async () => {
    f.clock.set('2026-03-01T20:15:00Z');
    const ben = { reference: `Patient/${f.patientIds.ben}` };
    const token = await f.token('ada');
    const created = await f.app.request('/fhir/Communication', {
      method: 'POST',
      token,
      json: {
        resourceType: 'Communication',
        status: 'completed',
        subject: ben,
        ...toPractice(),
        payload: [{ contentString: 'Ben has a fever' }],
      },
    });
    expect(created.status).toBe(201);
    const message = (await created.json()) as Communication;
    f.clock.set('2026-03-01T20:16:00Z');
    expect((await get('ada', `/fhir/Patient/${f.patientIds.ben}/$everything`)).status).toBe(200);
    const events = (await auditOf('ada', 'ben')).filter(
      (e) => e.agent?.[0]?.altId === f.accountIds.ada && e.recorded >= '2026-03-01T20:15',
    );
    expect(events.map((e) => [e.recorded, e.action, e.subtype?.[0]?.code, e.agent?.[0]?.who?.reference])).toEqual([
      ['2026-03-01T20:16:00.000Z', 'E', 'operation', `RelatedPerson/${f.relatedPersons.adaForBen}`],
      ['2026-03-01T20:15:00.000Z', 'C', 'create', `RelatedPerson/${f.relatedPersons.adaForBen}`],
    ]);
    expect(events[1].entity!.map((e) => e.what?.reference)).toEqual([`Patient/${f.patientIds.ben}`, `Communication/${message.id}`]);
    expect(events[0].entity![0].detail).toEqual([{ type: 'operation', valueString: '$everything' }]);
    expect(events[0].entity!.length).toBeGreaterThan(50);
  });
});

describe('tokens and grants take effect on the next request', () => {
  test('revoking Dan’s grant: the token he holds finds nothing any more (404, not 403)', async () => {
    f.clock.set('2026-03-01T20:20:00Z');
    const token = await f.token('dan');
    const path = `/fhir/Observation/${f.rows.ada.Observation}`;
    expect((await f.app.request(path, { token })).status).toBe(200);
    await revokeGrant(f.system, f.consents.danForAda);
    expect((await f.app.request(path, { token })).status).toBe(404);
    expect(matches((await (await f.app.request(`/fhir/Patient?_id=${f.patientIds.ada}`, { token })).json()) as Bundle)).toEqual([]);
  });

  test('a disabled account is refused at once; the CLI operator token stays unrestricted and audited', async () => {
    f.clock.set('2026-03-01T20:25:00Z');
    const token = await f.token('sam');
    expect((await f.app.request(`/fhir/Patient/${f.patientIds.sam}`, { token })).status).toBe(200);
    await f.app.database.db.updateTable('account').set({ disabled_at: new Date() }).where('id', '=', f.accountIds.sam).execute();
    expect((await f.app.request(`/fhir/Patient/${f.patientIds.sam}`, { token })).status).toBe(401);
    await f.app.database.db.updateTable('account').set({ disabled_at: null }).where('id', '=', f.accountIds.sam).execute();

    const operator = await signAccessToken({ sub: 'staff:cli', kind: 'staff' }, f.app.key, { clock: f.clock });
    expect((await f.app.request(`/fhir/Patient/${f.patientIds.sam}`, { token: operator })).status).toBe(200);
    expect(
      (await f.app.request(`/fhir/DocumentReference/${f.rows.ada['DocumentReference (unreleased)']}`, { token: operator })).status,
    ).toBe(200);
    const events = matches(
      await search('staff', `AuditEvent?patient=Patient/${f.patientIds.ada}&agent-name=${encodeURIComponent('Operator (staff:cli)')}`),
    ) as AuditEvent[];
    expect(events.map((e) => e.agent?.[0]?.who)).toEqual([{ display: 'staff:cli' }]);
  });
});

describe('writes', () => {
  test('staff create Patients for their own organisation only', async () => {
    const patient = (org: string): Patient => ({
      resourceType: 'Patient',
      name: [{ family: 'New' }],
      managingOrganization: { reference: `Organization/${org}` },
    });
    const token = await f.token('staff');
    expect((await f.app.request('/fhir/Patient', { method: 'POST', token, json: patient(f.organizationIds.westside) })).status).toBe(201);
    expect((await f.app.request('/fhir/Patient', { method: 'POST', token, json: patient(f.organizationIds.other) })).status).toBe(403);
    const ada = await f.system.read<Patient>('Patient', f.patientIds.ada);
    const moved = { ...ada, managingOrganization: { reference: `Organization/${f.organizationIds.other}` } };
    expect((await f.app.request(`/fhir/Patient/${ada.id}`, { method: 'PUT', token, json: moved })).status).toBe(403);
  });

  test('a message in two records cannot be rewritten by someone who holds only one of them at full', async () => {
    const { resource: message } = await f.system.create<Communication>({
      resourceType: 'Communication',
      status: 'completed',
      subject: { reference: `Patient/${f.patientIds.ben}` },
      recipient: [{ reference: `Patient/${f.patientIds.cara}` }],
      payload: [{ contentString: 'For both children' }],
    });
    const token = await f.token('ada');
    const onlyBen = { ...message, recipient: undefined };
    expect((await f.app.request(`/fhir/Communication/${message.id}`, { method: 'PUT', token, json: onlyBen })).status).toBe(403);
    expect((await f.app.request(`/fhir/Communication/${message.id}`, { method: 'DELETE', token })).status).toBe(403);
    // Cara is its recipient, but it is about Ben, whose record she holds nothing of: she does not see it (404, as if
    // it did not exist); the practice can remove it.
    expect((await f.app.request(`/fhir/Communication/${message.id}`, { method: 'DELETE', token: await f.token('cara') })).status).toBe(404);
    expect((await f.app.request(`/fhir/Communication/${message.id}`, { method: 'DELETE', token: await f.token('staff') })).status).toBe(
      204,
    );
  });

  test('a message goes out as its writer, and once sent neither patients nor family can rewrite or delete it', async () => {
    await grantBackDan();
    const ada = { reference: `Patient/${f.patientIds.ada}` };
    const { resource: doctor } = await f.system.create<Practitioner>({
      resourceType: 'Practitioner',
      name: [{ family: 'Chen', given: ['Maya'] }],
    });
    const { resource: reply } = await f.system.create<Communication>({
      resourceType: 'Communication',
      status: 'completed',
      subject: ada,
      sender: { reference: `Practitioner/${doctor.id}` },
      recipient: [ada],
      payload: [{ contentString: 'Your results are normal.' }],
    });
    const [adaToken, danToken] = [await f.token('ada'), await f.token('dan')];
    const as = (token: string, method: string, path: string, json?: unknown) => f.app.request(path, { method, token, json });

    // The practice's reply: nobody in the portal may change or delete it.
    expect(
      (
        await as(adaToken, 'PUT', `/fhir/Communication/${reply.id}`, {
          ...reply,
          payload: [{ contentString: 'Stop all your medications.' }],
        })
      ).status,
    ).toBe(403);
    expect((await as(adaToken, 'DELETE', `/fhir/Communication/${reply.id}`)).status).toBe(403);
    expect((await as(danToken, 'DELETE', `/fhir/Communication/${reply.id}`)).status).toBe(403);
    // Nor send a message in a clinician's name, or in another family member's.
    const from = (reference: string, status = 'completed') => ({
      resourceType: 'Communication',
      status,
      subject: ada,
      sender: { reference },
      ...toPractice(),
      payload: [{ contentString: 'Hello' }],
    });
    expect((await as(adaToken, 'POST', '/fhir/Communication', from(`Practitioner/${doctor.id}`))).status).toBe(403);
    expect((await as(adaToken, 'POST', '/fhir/Communication', from(`RelatedPerson/${f.relatedPersons.danForAda}`))).status).toBe(403);

    // Ada's own message, once sent, stays as the practice received it; Dan cannot remove it either.
    const sent = (await (await as(adaToken, 'POST', '/fhir/Communication', from(`Patient/${f.patientIds.ada}`))).json()) as Communication;
    expect((await as(adaToken, 'PUT', `/fhir/Communication/${sent.id}`, { ...sent, payload: [{ contentString: 'Edited' }] })).status).toBe(
      403,
    );
    expect((await as(adaToken, 'DELETE', `/fhir/Communication/${sent.id}`)).status).toBe(403);
    expect((await as(danToken, 'DELETE', `/fhir/Communication/${sent.id}`)).status).toBe(403);

    // A draft is hers to change, send or throw away.
    const draft = (await (
      await as(adaToken, 'POST', '/fhir/Communication', from(`Patient/${f.patientIds.ada}`, 'preparation'))
    ).json()) as Communication;
    const edited = await as(adaToken, 'PUT', `/fhir/Communication/${draft.id}`, {
      ...draft,
      payload: [{ contentString: 'Hello, doctor' }],
    });
    expect(edited.status).toBe(200);
    const another = (await (
      await as(adaToken, 'POST', '/fhir/Communication', from(`Patient/${f.patientIds.ada}`, 'preparation'))
    ).json()) as Communication;
    expect((await as(adaToken, 'DELETE', `/fhir/Communication/${another.id}`)).status).toBe(204);
    expect(
      (await as(adaToken, 'PUT', `/fhir/Communication/${draft.id}`, { ...((await edited.json()) as Communication), status: 'completed' }))
        .status,
    ).toBe(200);
    expect((await as(adaToken, 'DELETE', `/fhir/Communication/${draft.id}`)).status).toBe(403);
    // The practice still can.
    expect((await as(await f.token('staff'), 'DELETE', `/fhir/Communication/${sent.id}`)).status).toBe(204);
  });

  test('nobody writes AuditEvents through the API, not even the operator; the CapabilityStatement says so', async () => {
    const operator = await signAccessToken({ sub: 'staff:cli', kind: 'staff' }, f.app.key, { clock: f.clock });
    const event = {
      resourceType: 'AuditEvent',
      type: { code: 'rest' },
      action: 'R',
      recorded: '2026-03-01T20:00:00Z',
      agent: [{ who: { reference: `Patient/${f.patientIds.ada}` }, requestor: true }],
      source: { observer: { display: 'forged' } },
    };
    const created = await f.app.request('/fhir/AuditEvent', { method: 'POST', token: operator, json: event });
    expect(created.status).toBe(405);
    expect(((await created.json()) as OperationOutcome).issue[0].details?.text).toContain('written by the service alone');
    expect((await f.app.request(`/fhir/Patient/${f.patientIds.ada}`, { token: operator })).status).toBe(200);
    const [existing] = matches(await search('staff', `AuditEvent?patient=Patient/${f.patientIds.ada}&_count=1`)) as AuditEvent[];
    expect((await f.app.request(`/fhir/AuditEvent/${existing.id}`, { method: 'PUT', token: operator, json: existing })).status).toBe(405);
    expect((await f.app.request(`/fhir/AuditEvent/${existing.id}`, { method: 'DELETE', token: operator })).status).toBe(405);
    const transaction = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: event, request: { method: 'POST', url: 'AuditEvent' } }],
    };
    expect((await f.app.request('/fhir', { method: 'POST', token: operator, json: transaction })).status).toBe(405);
    expect((await f.app.request(`/fhir/AuditEvent/${existing.id}`, { token: operator })).status).toBe(200);

    const metadata = (await (await f.app.request('/fhir/metadata', { token: null })).json()) as CapabilityStatement;
    const audit = metadata.rest![0].resource!.find((r) => r.type === 'AuditEvent')!;
    expect(audit.interaction!.map((i) => i.code).sort()).toEqual(['history-instance', 'history-type', 'read', 'search-type', 'vread']);
    expect(audit.updateCreate).toBe(false);
  });

  test('Dan (full) writes a message on Ada’s behalf, but not her grants or her Patient', async () => {
    await grantBackDan();
    const token = await f.token('dan');
    const ada = { reference: `Patient/${f.patientIds.ada}` };
    const message = {
      resourceType: 'Communication',
      status: 'completed',
      subject: ada,
      sender: { reference: `RelatedPerson/${f.relatedPersons.danForAda}` },
      ...toPractice(),
      payload: [{ contentString: 'Asking for Ada' }],
    };
    expect((await f.app.request('/fhir/Communication', { method: 'POST', token, json: message })).status).toBe(201);
    const consent = await f.system.read('Consent', f.consents.danForAda);
    expect(
      (await f.app.request(`/fhir/Consent/${consent.id}`, { method: 'PUT', token, json: { ...consent, status: 'active' } })).status,
    ).toBe(403);
    const patient = await f.system.read<Patient>('Patient', f.patientIds.ada);
    expect(
      (await f.app.request(`/fhir/Patient/${patient.id}`, { method: 'PUT', token, json: { ...patient, birthDate: '1980-01-01' } })).status,
    ).toBe(403);
  });
});

/** What a sent portal message names besides its body (message-rules.ts): a subject, and the practice as recipient. */
function toPractice(): Pick<Communication, 'topic' | 'recipient'> {
  return {
    topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'medical-question' }] },
    recipient: [{ reference: `Organization/${f.organizationIds.westside}` }],
  };
}

async function grantBackDan(): Promise<void> {
  const { grantAccess } = await import('../src/fhir/proxy-grant-store');
  await grantAccess(f.system, {
    patientId: f.patientIds.ada,
    accountId: f.accountIds.dan,
    grantee: { name: 'Dan Reyes', relationship: 'DOMPART' },
    level: 'full',
    grantedBy: 'patient',
    performer: `Patient/${f.patientIds.ada}`,
  });
}
