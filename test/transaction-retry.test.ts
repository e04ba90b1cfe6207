import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { startTestApp, type TestApp } from './support/test-app';

/*
 * A client that times out and posts its transaction again cannot know whether the first try committed. Entries made
 * conditional on an identifier (ifNoneExist, or PUT Type?identifier=...) make the retry harmless, even while the first
 * try still runs: the same condition is taken in turn, so the second finds what the first created.
 */

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

/** A transaction: a Patient created unless its identifier exists, and an Observation about it updated by its identifier. */
function retriableTransaction(mrn: string): Bundle {
  const patientUrl = `urn:uuid:patient-${mrn}`;
  const entry: BundleEntry[] = [
    {
      fullUrl: patientUrl,
      resource: { resourceType: 'Patient', identifier: [{ system: 'urn:retry-test:mrn', value: mrn }], name: [{ family: 'Retry' }] },
      request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=urn:retry-test:mrn|${mrn}` },
    },
    {
      resource: {
        resourceType: 'Observation',
        identifier: [{ system: 'urn:retry-test:obs', value: `${mrn}-1` }],
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '2339-0' }] },
        subject: { reference: patientUrl },
        valueQuantity: { value: 95, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
      },
      request: { method: 'PUT', url: `Observation?identifier=urn:retry-test:obs|${mrn}-1` },
    },
  ];
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

async function total(query: string): Promise<number> {
  const res = await app.request(`/fhir/${query}&_summary=count`);
  expect(res.status).toBe(200);
  return ((await res.json()) as Bundle).total!;
}

test('a transaction with conditional entries posted four times at once creates each resource once', async () => {
  for (const mrn of ['r1', 'r2', 'r3']) {
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => app.request('/fhir', { method: 'POST', json: retriableTransaction(mrn) })),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    const bundles = (await Promise.all(answers.map((a) => a.json()))) as Bundle[];
    const patientIds = new Set(bundles.map((b) => b.entry![0].response!.location!.split('/')[1]));
    expect(patientIds.size).toBe(1);
    expect(bundles.map((b) => b.entry![0].response!.status).sort()).toEqual(['200 OK', '200 OK', '200 OK', '201 Created']);
    expect(await total(`Patient?identifier=urn:retry-test:mrn|${mrn}`)).toBe(1);
    expect(await total(`Observation?identifier=urn:retry-test:obs|${mrn}-1`)).toBe(1);
  }
});
