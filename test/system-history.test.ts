/**
 * Issue 21, system history: `GET /fhir/_history` and `GET /fhir/{type}/_history` with `_since` and paging, access
 * applied, so a client catches up after downtime: pages newest first linked by `next`, stable while writes go on.
 */
import type { Bundle, DocumentReference, Observation, Patient } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';
import { signInNewStaff } from './support/staff-accounts';

describe('system-level history', () => {
  let app: AuthTestApp;
  let maya: string;
  let ada: string;
  let cara: string;
  let since: string;
  const written: string[] = [];

  beforeAll(async () => {
    app = await startAuthTestApp();
    maya = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
    const patients = await app.system.searchResources<Patient>('Patient', { _count: '100' });
    const idOf = (given: string) => patients.find((p) => p.name?.[0]?.given?.[0] === given)!.id!;
    [ada, cara] = [idOf('Ada'), idOf('Cara')];
    app.clock.advance(60_000);
    since = app.clock.now().toISOString();
    // After the demo family: an Observation of Ada's, a draft document of Ada's, Cara's Observation, each a second apart.
    for (const resource of [
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Mood' },
        subject: { reference: `Patient/${ada}` },
        valueString: 'good',
      } as Observation,
      {
        resourceType: 'DocumentReference',
        status: 'current',
        docStatus: 'preliminary',
        subject: { reference: `Patient/${ada}` },
        content: [{ attachment: { contentType: 'text/plain', data: 'ZHJhZnQ=' } }],
      } as DocumentReference,
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Mood' },
        subject: { reference: `Patient/${cara}` },
        valueString: 'tired',
      } as Observation,
    ]) {
      app.clock.advance(1000);
      written.push(`${resource.resourceType}/${(await app.system.create(resource)).resource.id}`);
    }
  });
  afterAll(() => app?.close());

  const get = async (path: string, token = maya) => app.call('GET', path, { token });
  const refs = (bundle: Bundle): string[] =>
    (bundle.entry ?? []).map((e) =>
      e.request?.url === e.resource?.resourceType ? `${e.resource?.resourceType}/${e.resource?.id}` : (e.request?.url as string),
    );

  it('GET /fhir/_history with _since returns only what changed, newest first, in pages linked by next', async () => {
    const first = await get(`/fhir/_history?_since=${encodeURIComponent(since)}&_count=2`);
    expect(first.status).toBe(200);
    expect([first.body.type, refs(first.body)]).toEqual(['history', [written[2], written[1]]]);
    const next = first.body.link.find((l: any) => l.relation === 'next').url as string;
    expect(next.startsWith(`${app.url}/fhir/_history?`)).toBe(true);
    // A write between two pages is newer than the first page: it does not shift the next one.
    app.clock.advance(1000);
    await app.system.create({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Mood' },
      subject: { reference: `Patient/${ada}` },
      valueString: 'later',
    });
    const second = await get(next.slice(app.url.length));
    expect(refs(second.body)).toEqual([written[0]]);
    expect(second.body.link.find((l: any) => l.relation === 'next')).toBeUndefined();
    expect(first.body.entry[0].response).toMatchObject({ status: '201', etag: 'W/"1"' });
  });

  it('GET /fhir/Type/_history pages the same way', async () => {
    const page = await get(`/fhir/Observation/_history?_since=${encodeURIComponent(since)}&_count=1`);
    expect(refs(page.body)).toHaveLength(1);
    const rest = await get(page.body.link.find((l: any) => l.relation === 'next').url.slice(app.url.length));
    expect(refs(rest.body).every((ref: string) => ref.startsWith('Observation/'))).toBe(true);
    expect(refs(rest.body)).toContain(written[2]);
  });

  it('applies the caller’s access: another organisation sees none of it, Ada not Cara’s nor her unreleased draft', async () => {
    const other = (
      await signInNewStaff(app, { email: 'history@elsewhere.example', displayName: 'Elsewhere', organizationId: 'other-organization' })
    ).access_token;
    const adaToken = (await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD)).access_token;
    const query = `/fhir/_history?_since=${encodeURIComponent(since)}&_count=1000`;
    expect(refs((await get(query, other)).body).filter((ref: string) => written.includes(ref))).toEqual([]);
    expect(refs((await get(query, adaToken)).body).filter((ref: string) => written.includes(ref))).toEqual([written[0]]);
    expect(refs((await get(query)).body).filter((ref: string) => written.includes(ref))).toEqual([written[2], written[1], written[0]]);
  });

  it('refuses a bad _since, _count, _cursor or an unknown parameter with a 400 naming it', async () => {
    for (const [query, text] of [
      ['_since=yesterday', '_since must be a FHIR instant'],
      ['_since=2026-01-01', '_since must be a FHIR instant'],
      ['_count=0', '_count must be a positive integer'],
      ['_count=1.5', '_count must be a positive integer'],
      ['_cursor=bm90LW91cnM', '_cursor is not one this service gave'],
      ['_type=Patient', 'Unknown parameter "_type"'],
      ['_count=1&_count=2', '_count may be given once'],
    ]) {
      const res = await get(`/fhir/_history?${query}`);
      expect([query, res.status, outcomeText(res.body)]).toEqual([query, 400, expect.stringContaining(text)]);
    }
    // A _count past the largest page (1000) is answered with that page.
    expect((await get('/fhir/_history?_count=5000')).status).toBe(200);
  });
});
