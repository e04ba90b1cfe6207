import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from './definitions';
import { FhirError } from './outcomes';
import { indexValues } from './search/index-values';
import { assertValidResource } from './validation';
import { preparationError, WritePreparationPool } from './write-preparation-pool';

let pool: WritePreparationPool;

beforeAll(async () => {
  loadFhirDefinitions();
  pool = WritePreparationPool.start(2);
  await pool.ready;
});
afterAll(() => pool.close());

const patient = (id: string): Patient => ({
  resourceType: 'Patient',
  id,
  name: [{ family: 'Park', given: ['Ada'] }],
  birthDate: '1984-05-02',
  gender: 'female',
});
const observation = (id: string, value: number): Observation => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose' }], text: 'Glucose' },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2026-01-02T08:00:00Z',
  valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
});

/** What assertValidResource throws for a resource, in-process. */
function thrownBy(resource: Resource): FhirError {
  try {
    assertValidResource(resource);
  } catch (err) {
    return err as FhirError;
  }
  throw new Error('expected the resource to be invalid');
}

test('workers compute the same index rows as indexValues on the main thread, in input order', async () => {
  const resources: Resource[] = [patient('p1'), ...Array.from({ length: 40 }, (_, i) => observation(`o${i}`, 70 + i))];
  const prepared = await pool.prepare(resources);
  expect(prepared).toHaveLength(41);
  prepared.forEach((p, i) => {
    expect(p.error).toBeUndefined();
    expect(p.index).toEqual(indexValues(resources[i]));
  });
  // Order: the quantity rows carry each Observation's own value.
  expect(prepared.slice(1).map((p) => p.index!.quantity[0].value)).toEqual(Array.from({ length: 40 }, (_, i) => String(70 + i)));
});

test('an invalid resource comes back as the very OperationOutcome assertValidResource throws', async () => {
  const bad = { ...patient('p2'), gender: 'x', birthDate: 'yesterday' } as unknown as Patient;
  const [ok, failed] = await pool.prepare([patient('p1'), bad]);
  expect(ok.error).toBeUndefined();
  const expected = thrownBy(bad);
  expect(failed.index).toBeUndefined();
  expect(failed.error).toEqual({ status: 400, outcome: expected.outcome });
  const rebuilt = preparationError(failed.error!) as FhirError;
  expect(rebuilt).toBeInstanceOf(FhirError);
  expect(rebuilt.status).toBe(400);
  expect(rebuilt.outcome).toEqual(expected.outcome);
});

test('stamping versionId and lastUpdated does not change index rows (what rememberIndex relies on)', () => {
  for (const resource of [patient('p1'), observation('o1', 5)] as Resource[]) {
    const stamped = { ...resource, meta: { versionId: '7', lastUpdated: '2026-02-03T04:05:06.000Z' } } as Resource;
    expect(indexValues(stamped)).toEqual(indexValues(resource));
  }
});

test('a closed pool refuses work instead of hanging', async () => {
  const other = WritePreparationPool.start(1);
  await other.ready;
  await other.close();
  await expect(other.prepare([patient('p1')])).rejects.toThrow('closed');
});

test('an on-demand pool starts its workers with the first request and stops them when idle', async () => {
  const onDemand = WritePreparationPool.onDemand(1, 200);
  try {
    expect(onDemand.size).toBe(0);
    const [first] = await onDemand.prepare([patient('p1')]);
    expect(first.index).toEqual(indexValues(patient('p1')));
    expect(onDemand.size).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(onDemand.size).toBe(0);
    // A request after the workers stopped starts them again and is answered.
    const [again] = await onDemand.prepare([observation('o1', 5)]);
    expect(again.index).toEqual(indexValues(observation('o1', 5)));
  } finally {
    await onDemand.close();
  }
  await expect(onDemand.prepare([patient('p1')])).rejects.toThrow('closed');
});

test('closing a pool with work in flight refuses that work with a 503 instead of leaving it waiting', async () => {
  const closing = WritePreparationPool.start(1);
  await closing.ready;
  const work = closing.prepare(Array.from({ length: 200 }, (_, i) => observation(`o${i}`, i))).then(
    () => undefined,
    (err: unknown) => err,
  );
  await closing.close();
  const refused = await work;
  expect(refused).toBeInstanceOf(FhirError);
  expect((refused as FhirError).status).toBe(503);
  expect((refused as FhirError).outcome.issue[0].details?.text).toBe('The server is stopping; please send the request again');
});

test('an on-demand pool whose workers die twice on a request answers 503, not 500', async () => {
  // A heap far below the definitions' ~250 MB: every worker dies as it starts, through no fault of the request.
  const starved = WritePreparationPool.onDemand(1, 200, { maxOldGenerationSizeMb: 16 });
  try {
    const refused = await starved.prepare([patient('p1')]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(FhirError);
    expect((refused as FhirError).status).toBe(503);
    expect((refused as FhirError).outcome.issue[0].details?.text).toMatch(
      /^The server could not validate the request just now \(.*memory.*, twice\); please send it again$/,
    );
  } finally {
    await starved.close();
  }
});
