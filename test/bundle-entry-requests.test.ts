/**
 * Issue 24 item 11: a batch or transaction entry's request is read as the same request sent directly would be.
 * Before, `GET Patient/{id}/$everything` and `GET Observation/{id}/_history/1` in a batch answered a search of the
 * whole type, `DELETE Observation/{id}/_history/1` deleted the resource and a conditional DELETE named
 * "Observation/undefined". Each unsupported entry is now its own 400/405 (in a transaction, the whole one's), and
 * nothing else changes.
 */
import type { Bundle, BundleEntry, Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { recordState } from './support/record-state';
import { startTestApp, type TestApp } from './support/test-app';

let app: TestApp;
let patient: Patient;
let observation: Observation;
beforeAll(async () => {
  app = await startTestApp();
  patient = (await (
    await app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Patient', name: [{ family: 'Entries' }] } })
  ).json()) as Patient;
  const obs = {
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'Weight' },
    subject: { reference: `Patient/${patient.id}` },
    valueString: 'first',
  };
  const created = (await (await app.request('/fhir/Observation', { method: 'POST', json: obs })).json()) as Observation;
  observation = (await (
    await app.request(`/fhir/Observation/${created.id}`, { method: 'PUT', json: { ...created, valueString: 'second' } })
  ).json()) as Observation;
});
afterAll(() => app?.close());

async function batch(entry: BundleEntry[], type: 'batch' | 'transaction' = 'batch'): Promise<{ status: number; body: any }> {
  const res = await app.request('/fhir', { method: 'POST', json: { resourceType: 'Bundle', type, entry } });
  return { status: res.status, body: await res.json() };
}

/** Each entry's status and, for an error, its message. */
function answers(bundle: Bundle): [string | undefined, string | undefined][] {
  return (bundle.entry ?? []).map((e) => [e.response?.status, e.response?.outcome?.issue?.[0]?.details?.text]);
}

describe('issue 24 item 11: Bundle entries are parsed as direct requests', () => {
  it('answers each unsupported entry of a batch with its own 400 or 405, changing nothing', async () => {
    const before = await recordState(app.database);
    const o = `Observation/${observation.id}`;
    const { status, body } = await batch([
      { request: { method: 'GET', url: `Patient/${patient.id}/$everything` } },
      { request: { method: 'DELETE', url: `${o}/_history/1` } },
      { request: { method: 'DELETE', url: `Observation?subject=Patient/${patient.id}` } },
      { request: { method: 'PUT', url: `${o}/_history/1` }, resource: { ...observation, valueString: 'sneaked' } },
      { request: { method: 'POST', url: `${o}` }, resource: { ...observation, id: undefined } },
      { request: { method: 'POST', url: 'Patient' }, resource: { ...observation, id: undefined } },
      { request: { method: 'GET', url: 'Observation/../Patient' } },
      { request: { method: 'GET', url: `${o}/_history/99999999999999999999` } },
      { request: { method: 'GET', url: 'https://elsewhere.example/fhir/Patient' } },
      { request: { method: 'GET', url: 'Nothing/1' } },
      { request: { method: 'PATCH', url: o } },
      { request: { method: 'constructor' as 'GET', url: o } },
      { request: { method: 'GET', url: `${o}/extra/segments/here` } },
    ]);
    expect(status).toBe(200);
    expect(answers(body)).toEqual([
      ['405', 'Bundle.entry[0].request: operations ($...) are not supported inside a Bundle; call them directly'],
      ['405', `Bundle.entry[1].request: DELETE removes a resource by its URL, Type/id: not "${o}/_history/1"`],
      ['405', 'Bundle.entry[2].request: Conditional delete is not supported: search, then DELETE each resource by its id'],
      ['405', `Bundle.entry[3].request: PUT updates a resource by its URL, Type/id (or Type?search): not "${o}/_history/1"`],
      ['405', `Bundle.entry[4].request: POST creates a resource: its URL is the type alone ("Observation"), not "${o}"`],
      ['400', 'Bundle.entry[5].resource is a Observation but its request.url is for Patient'],
      ['400', 'Bundle.entry[6].request.url "Observation/../Patient" is not a FHIR interaction URL'],
      ['400', `Bundle.entry[7].request.url "${o}/_history/99999999999999999999" has a version id that is not one ("99999999999999999999")`],
      [
        '400',
        'Bundle.entry[8].request.url must be relative to this server (Type, Type/id...), got "https://elsewhere.example/fhir/Patient"',
      ],
      ['400', 'Bundle.entry[9].request.url "Nothing/1" does not name a supported resource type'],
      ['405', 'Bundle.entry[10].request: PATCH is not supported: PUT the whole resource'],
      ['400', 'Bundle.entry[11].request.method must be GET, POST, PUT or DELETE'],
      ['400', `Bundle.entry[12].request.url "${o}/extra/segments/here" is not a FHIR interaction URL`],
    ]);
    expect(await recordState(app.database)).toEqual(before);
    expect((await app.request(`/fhir/${o}`)).status).toBe(200);
  });

  it('answers vread and history entries as the direct requests do, and an absolute URL of this server', async () => {
    const before = await recordState(app.database);
    const o = `Observation/${observation.id}`;
    const { status, body } = await batch([
      { request: { method: 'GET', url: `${o}/_history/1` } },
      { request: { method: 'GET', url: `${o}/_history` } },
      { request: { method: 'GET', url: `${app.fhir}/${o}` } },
      { request: { method: 'GET', url: `Observation?subject=Patient/${patient.id}` } },
    ]);
    expect(status).toBe(200);
    const [vread, history, read, search] = (body as Bundle).entry!;
    expect([vread.response?.status, (vread.resource as Observation).valueString, vread.response?.etag]).toEqual([
      '200 OK',
      'first',
      'W/"1"',
    ]);
    expect(((history.resource as Bundle).entry ?? []).map((e) => (e.resource as Observation).valueString)).toEqual(['second', 'first']);
    expect([read.response?.status, (read.resource as Observation).valueString]).toEqual(['200 OK', 'second']);
    expect(((search.resource as Bundle).entry ?? []).map((e) => e.resource?.id)).toEqual([observation.id]);
    expect(await recordState(app.database)).toEqual(before);
  });

  it("fails a whole transaction on an unsupported entry, with that entry's status, writing nothing", async () => {
    const before = await recordState(app.database);
    const o = `Observation/${observation.id}`;
    const { status, body } = await batch(
      [
        { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', name: [{ family: 'Never' }] } },
        { request: { method: 'DELETE', url: `${o}/_history/1` } },
      ],
      'transaction',
    );
    expect([status, (body as OperationOutcome).issue[0].details?.text]).toEqual([
      405,
      `Bundle.entry[1].request: DELETE removes a resource by its URL, Type/id: not "${o}/_history/1"`,
    ]);
    expect(await recordState(app.database)).toEqual(before);
  });
});
