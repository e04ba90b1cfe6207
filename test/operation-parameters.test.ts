/**
 * Issue 21: repeated parameters of an operation. A parameter the operation takes as a list (`_type` of `$export` and
 * `$everything`) may be repeated, in the query or a Parameters body, and every value counts; any other parameter given
 * twice is a 400 OperationOutcome naming it, whichever operation, rather than one of its values silently winning.
 */
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';

describe('repeated operation parameters', () => {
  let app: AuthTestApp;
  let maya: string;
  let ada: string;

  beforeAll(async () => {
    app = await startAuthTestApp();
    maya = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
    const patients = await app.system.searchResources<Patient>('Patient', { _count: '100' });
    ada = patients.find((p) => p.name?.[0]?.given?.[0] === 'Ada')!.id!;
  });
  afterAll(() => app?.close());

  const typesIn = (bundle: Bundle) => [...new Set((bundle.entry ?? []).map((e) => e.resource!.resourceType))].sort();

  it('a repeated _type of $everything keeps every type, as its comma-separated form does', async () => {
    const only = await app.call('GET', `/fhir/Patient/${ada}/$everything?_type=Patient`, { token: maya });
    const joined = await app.call('GET', `/fhir/Patient/${ada}/$everything?_type=Patient,Condition`, { token: maya });
    const repeated = await app.call('GET', `/fhir/Patient/${ada}/$everything?_type=Patient&_type=Condition`, { token: maya });
    expect([only.status, joined.status, repeated.status]).toEqual([200, 200, 200]);
    // Ada has Conditions: the second _type is what brings them.
    expect([typesIn(only.body).includes('Condition'), typesIn(joined.body).includes('Condition')]).toEqual([false, true]);
    expect(typesIn(repeated.body)).toEqual(typesIn(joined.body));
    expect(repeated.body.entry.length).toBe(joined.body.entry.length);
    const posted = await app.call('POST', `/fhir/Patient/${ada}/$everything?_type=Patient`, {
      token: maya,
      json: { resourceType: 'Parameters', parameter: [{ name: '_type', valueString: 'Condition' }] },
    });
    expect([posted.status, typesIn(posted.body)]).toEqual([200, typesIn(joined.body)]);
  });

  it('any other parameter given twice is a 400 naming it, in the query, the body, or both', async () => {
    const cases: [string, string, object | undefined, string][] = [
      ['GET', `/fhir/Patient/${ada}/$everything?start=2020-01-01&start=2024-01-01`, undefined, 'start'],
      ['GET', `/fhir/Patient/${ada}/$ccda?start=2020-01-01&start=2021-01-01`, undefined, 'start'],
      ['GET', `/fhir/$export?_since=2020-01-01T00:00:00Z&_since=2024-01-01T00:00:00Z`, undefined, '_since'],
      [
        'POST',
        `/fhir/Patient/${ada}/$everything`,
        {
          resourceType: 'Parameters',
          parameter: [
            { name: 'end', valueDate: '2020-01-01' },
            { name: 'end', valueDate: '2024-01-01' },
          ],
        },
        'end',
      ],
      [
        'POST',
        `/fhir/Patient/${ada}/$everything?start=2020-01-01`,
        { resourceType: 'Parameters', parameter: [{ name: 'start', valueDate: '2024-01-01' }] },
        'start',
      ],
    ];
    for (const [method, path, json, name] of cases) {
      const res = await app.call(method, path, { token: maya, json });
      expect([path, res.status, res.body.resourceType, outcomeText(res.body)]).toEqual([
        path,
        400,
        'OperationOutcome',
        expect.stringMatching(new RegExp(`^\\$\\w+ takes one ${name}; it was given 2 times$`)),
      ]);
    }
  });

  it('refuses more values than an operation takes', async () => {
    const query = Array.from({ length: 101 }, () => '_type=Patient').join('&');
    const res = await app.call('GET', `/fhir/Patient/${ada}/$everything?${query}`, { token: maya });
    expect([res.status, outcomeText(res.body)]).toEqual([400, '$everything takes at most 100 parameter values']);
  });
});
