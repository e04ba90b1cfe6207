/**
 * Issue 21: a query name given many times is every one of its values, on every route. Express's default parser (qs)
 * turned more than 20 repetitions of one name into an object keyed "0", "1"..., which a search read as
 * "[object Object]"; the app's parser (src/http/query-string.ts) keeps each value as text. A search with `_id` or
 * `code` given 25 times, by GET or POST `_search`, is the search the values make; an operation counts each of 25
 * repetitions; and `name[a]` is a name like any other, not an object.
 */
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';

const repeated = (name: string, value: string, times = 25) =>
  Array.from({ length: times }, () => `${name}=${encodeURIComponent(value)}`).join('&');

describe('25 repetitions of one query parameter', () => {
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

  const ids = (bundle: Bundle) => (bundle.entry ?? []).map((e) => e.resource!.id as string).sort();

  it('a search with _id given 25 times finds what _id given once finds, by GET and by POST _search', async () => {
    const once = await app.call('GET', `/fhir/Patient?_id=${ada}`, { token: maya });
    const many = await app.call('GET', `/fhir/Patient?${repeated('_id', ada)}`, { token: maya });
    expect([once.status, ids(once.body)]).toEqual([200, [ada]]);
    expect([many.status, ids(many.body)]).toEqual([200, [ada]]);
    // The page's own link repeats every one of them.
    const self = new URL(many.body.link.find((l: { relation: string }) => l.relation === 'self').url);
    expect(self.searchParams.getAll('_id')).toEqual(Array.from({ length: 25 }, () => ada));
    // 13 in the URL and 12 in the form: all 25 count (ANDed with one other id, nothing matches).
    const post = (query: string, form: string) =>
      fetch(`${app.url}/fhir/Patient/_search?${query}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${maya}`, 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/fhir+json' },
        body: form,
      });
    const posted = await post(repeated('_id', ada, 13), repeated('_id', ada, 12));
    expect([posted.status, ids((await posted.json()) as Bundle)]).toEqual([200, [ada]]);
    const other = await post(repeated('_id', ada, 13), `${repeated('_id', ada, 11)}&_id=someone-else`);
    expect([other.status, ids((await other.json()) as Bundle)]).toEqual([200, []]);
  });

  it('a search with code given 25 times ANDs every one of them', async () => {
    const observations = await app.system.searchResources<Observation>('Observation', { patient: `Patient/${ada}`, _count: '100' });
    const coding = observations.map((o) => o.code?.coding?.[0]).find((c) => c?.system && c.code)!;
    const token = `${coding.system}|${coding.code}`;
    const once = await app.call('GET', `/fhir/Observation?patient=${ada}&code=${encodeURIComponent(token)}`, { token: maya });
    expect(once.status).toBe(200);
    expect(ids(once.body).length).toBeGreaterThan(0);
    const many = await app.call('GET', `/fhir/Observation?patient=${ada}&${repeated('code', token)}`, { token: maya });
    expect([many.status, ids(many.body)]).toEqual([200, ids(once.body)]);
    const oneOther = await app.call('GET', `/fhir/Observation?patient=${ada}&${repeated('code', token, 24)}&code=http://loinc.org|0-0`, {
      token: maya,
    });
    expect([oneOther.status, ids(oneOther.body)]).toEqual([200, []]);
  });

  it('an operation counts each of 25 repetitions: a list parameter keeps them, any other is a 400 naming 25', async () => {
    const once = await app.call('GET', `/fhir/Patient/${ada}/$everything?_type=Condition`, { token: maya });
    const many = await app.call('GET', `/fhir/Patient/${ada}/$everything?${repeated('_type', 'Condition')}`, { token: maya });
    expect([once.status, many.status]).toEqual([200, 200]);
    expect(ids(many.body)).toEqual(ids(once.body));
    expect(ids(once.body).length).toBeGreaterThan(0);
    const start = await app.call('GET', `/fhir/Patient/${ada}/$everything?${repeated('start', '2020-01-01')}`, { token: maya });
    expect([start.status, outcomeText(start.body)]).toEqual([400, '$everything takes one start; it was given 25 times']);
  });

  it('a history takes _count and _since once, however often they are repeated', async () => {
    const count = await app.call('GET', `/fhir/Patient/${ada}/_history?${repeated('_count', '1')}`, { token: maya });
    expect([count.status, outcomeText(count.body)]).toEqual([400, '_count may be given once']);
    const since = await app.call('GET', `/fhir/Patient/${ada}/_history?${repeated('_since', '2020-01-01T00:00:00Z', 2)}`, { token: maya });
    expect([since.status, outcomeText(since.body)]).toEqual([400, '_since may be given once']);
    const typeHistory = await app.call('GET', `/fhir/Patient/_history?${repeated('_count', '1')}`, { token: maya });
    expect([typeHistory.status, outcomeText(typeHistory.body)]).toEqual([400, '_count may be given once']);
  });

  it('a name with brackets is a name: Patient?name[0]=x is an unknown search parameter, not an object', async () => {
    const res = await app.call('GET', '/fhir/Patient?name[0]=Park', { token: maya });
    expect([res.status, outcomeText(res.body)]).toEqual([400, expect.stringContaining('name[0]')]);
  });
});
