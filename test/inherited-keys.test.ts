/**
 * Issue 24 item 14: keys that name a property every JavaScript object inherits (`__proto__`, `constructor`,
 * `toString`...) are unknown keys like any other, on every way in: a resource's elements (top level, nested, a
 * primitive's `_element`, a contained resource), a Bundle and its entries, and the names and modifiers of search
 * parameters. Each is a 400 naming the key, and nothing is stored. Every other JSON body (/auth, Parameters) meets
 * the same check where it is parsed (src/fhir/input-limits.test.ts).
 */
import type { OperationOutcome, Patient } from '@medplum/fhirtypes';
import { recordState } from './support/record-state';
import { startTestApp, type TestApp } from './support/test-app';

let app: TestApp;
let patient: Patient;
beforeAll(async () => {
  app = await startTestApp();
  patient = (await (
    await app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Patient', name: [{ family: 'Keys' }] } })
  ).json()) as Patient;
});
afterAll(() => app?.close());

/** The status and the first issue's text and location. */
async function answer(res: Response): Promise<[number, string | undefined, string[] | undefined]> {
  const body = (await res.json()) as OperationOutcome;
  return [res.status, body.issue?.[0]?.details?.text, body.issue?.[0]?.expression];
}

const INHERITED = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];

describe('issue 24 item 14: __proto__ and constructor keys are refused like every other unknown key', () => {
  it.each(INHERITED)('refuses "%s" anywhere in a created or updated resource (400, the key and where), storing nothing', async (key) => {
    const before = await recordState(app.database);
    const bodies: [string, string, string][] = [
      ['POST', '/fhir/Patient', `{"resourceType":"Patient","${key}":{"polluted":true}}`],
      ['POST', '/fhir/Patient', `{"resourceType":"Patient","name":[{"family":"A","${key}":"x"}]}`],
      ['POST', '/fhir/Patient', `{"resourceType":"Patient","_birthDate":{"${key}":"x"},"birthDate":"1990-01-01"}`],
      ['POST', '/fhir/Patient', `{"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"c","${key}":1}]}`],
      ['PUT', `/fhir/Patient/${patient.id}`, `{"resourceType":"Patient","id":"${patient.id}","${key}":1}`],
    ];
    const where = [
      `Patient.${key}`,
      `Patient.name[0].${key}`,
      `Patient._birthDate.${key}`,
      `Patient.contained[0].${key}`,
      `Patient.${key}`,
    ];
    for (const [i, [method, path, body]] of bodies.entries()) {
      const res = await app.request(path, { method, body, headers: { 'Content-Type': 'application/fhir+json' } });
      expect(await answer(res)).toEqual([400, `Invalid additional property "${key}"`, [where[i]]]);
    }
    expect(await recordState(app.database)).toEqual(before);
  });

  it('refuses them in a transaction or batch Bundle, its entries and their resources', async () => {
    const before = await recordState(app.database);
    const post = (path: string, json: string) =>
      app.request(path, { method: 'POST', body: json, headers: { 'Content-Type': 'application/fhir+json' } });
    const entry = `{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient"}}`;
    expect(await answer(await post('/fhir', `{"resourceType":"Bundle","type":"transaction","constructor":1,"entry":[${entry}]}`))).toEqual([
      400,
      'Invalid additional property "constructor"',
      ['Bundle.constructor'],
    ]);
    expect(
      await answer(
        await post(
          '/fhir',
          `{"resourceType":"Bundle","type":"batch","entry":[{"__proto__":{},"request":{"method":"GET","url":"Patient"}}]}`,
        ),
      ),
    ).toEqual([400, 'Invalid additional property "__proto__"', ['Bundle.entry[0].__proto__']]);
    expect(
      await answer(
        await post(
          '/fhir',
          `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","constructor":{"prototype":{"x":1}}}}]}`,
        ),
      ),
    ).toEqual([400, 'Invalid additional property "constructor"', ['Bundle.entry[0].resource.constructor']]);
    expect(await recordState(app.database)).toEqual(before);
  });

  it.each(INHERITED.filter((k) => k !== '__proto__'))(
    'refuses "%s" as a search parameter, a modifier, a chained name or an operation format',
    async (key) => {
      const before = await recordState(app.database);
      expect(await answer(await app.request(`/fhir/Patient?${key}=1`))).toEqual([
        400,
        `Unknown search parameter "${key}" for Patient`,
        [key],
      ]);
      expect(
        await answer(
          await app.request(`/fhir/Patient/_search`, {
            method: 'POST',
            body: `${key}=1`,
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          }),
        ),
      ).toEqual([400, `Unknown search parameter "${key}" for Patient`, [key]]);
      expect(await answer(await app.request(`/fhir/Patient?name:${key}=1`))).toEqual([
        400,
        `Modifier or chained name "${key}" of search parameter "name" is not supported`,
        ['name'],
      ]);
      expect(await answer(await app.request(`/fhir/Observation?subject.${key}=1`))).toEqual([
        400,
        `Modifier or chained name "${key}" of search parameter "subject" is not supported`,
        ['subject'],
      ]);
      expect(await answer(await app.request(`/fhir/Patient?_sort=${key}`))).toEqual([
        400,
        `Unknown sort parameter "${key}" for Patient`,
        ['_sort'],
      ]);
      expect((await app.request(`/fhir/Patient/${patient.id}/$ccda?_format=${key}`)).status).toBe(400);
      expect(await recordState(app.database)).toEqual(before);
    },
  );
});
