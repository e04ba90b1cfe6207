import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { lockConditions } from '../src/fhir/condition-lock';
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

/** Whether the promise settles within ms. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// PGlite runs one transaction at a time: there no two transactions hold or wait for a lock at once.
(process.env.DATABASE_URL ? test : test.skip)(
  'a condition that already matches takes no lock; one that matches nothing waits for it',
  async () => {
    const first = await app.request('/fhir', { method: 'POST', json: retriableTransaction('held') });
    expect(first.status).toBe(200);
    // Another transaction holds the locks of the conditions of both MRNs until released.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    const holder = app.database.db.transaction().execute(async (trx) => {
      const conditions = ['held', 'new'].flatMap((mrn) => [
        { type: 'Patient', query: `identifier=urn:retry-test:mrn|${mrn}` },
        { type: 'Observation', query: `identifier=urn:retry-test:obs|${mrn}-1` },
      ]);
      await lockConditions(trx, conditions);
      locked();
      await released;
    });
    await holding;
    try {
      // Both conditions match: the transaction runs while the locks are held.
      const again = app.request('/fhir', { method: 'POST', json: retriableTransaction('held') });
      expect(await settlesWithin(again, 30_000)).toBe(true);
      expect((await again).status).toBe(200);
      const single = app.request('/fhir/Patient', {
        method: 'POST',
        headers: { 'If-None-Exist': 'identifier=urn:retry-test:mrn|held' },
        json: { resourceType: 'Patient', identifier: [{ system: 'urn:retry-test:mrn', value: 'held' }] },
      });
      expect(await settlesWithin(single, 30_000)).toBe(true);
      expect((await single).status).toBe(200);
      // Nothing matches: it waits for the locks, and creates once they are released.
      const fresh = app.request('/fhir', { method: 'POST', json: retriableTransaction('new') });
      expect(await settlesWithin(fresh, 1_000)).toBe(false);
      release();
      await holder;
      const answer = await fresh;
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as Bundle).entry![0].response!.status).toBe('201 Created');
    } finally {
      release();
      await holder;
    }
    expect(await total('Patient?identifier=urn:retry-test:mrn|held')).toBe(1);
    expect(await total('Patient?identifier=urn:retry-test:mrn|new')).toBe(1);
  },
);
