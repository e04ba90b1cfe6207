/**
 * Issue 20, US Core 6.1.0: every example of the published package passes the US Core profile it claims and a broken
 * copy of each (an element its profile requires taken out) fails; a Patient claiming us-core-patient without its
 * required identifier and gender is a 400 naming both, with nothing written; the CapabilityStatement instantiates the
 * US Core server and lists the US Core profiles per type.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { isSupportedType, loadFhirDefinitions } from '../src/fhir/definitions';
import { FhirError } from '../src/fhir/outcomes';
import { usCoreClaimsOf } from '../src/fhir/us-core-profiles';
import { assertValidResource } from '../src/fhir/validation';
import { buildDemoFamily, localCalendarDay } from '../fixtures/demo-family';
import { startTestApp, type TestApp } from './support/test-app';

const PACKAGE = path.resolve(__dirname, '..', '../shared/corpus/fhir-ig/hl7.fhir.us.core-6.1.0');
const present = fs.existsSync(path.join(PACKAGE, 'example'));
if (!present) console.warn(`Skipping the US Core examples test: ${PACKAGE} is absent`);
const describeCorpus = present ? describe : describe.skip;

/** The problems assertValidResource finds ([] when valid). */
function problems(resource: unknown): string[] {
  try {
    assertValidResource(resource);
    return [];
  } catch (err) {
    if (!(err instanceof FhirError)) throw err;
    return (err.outcome.issue ?? []).map((i) => `${i.expression?.[0] ?? ''}: ${i.details?.text}`);
  }
}

/** The example without the first top-level element its profile requires (and that the example has). */
function withoutRequiredElement(resource: Resource): { broken: Resource; element: string } | undefined {
  const [{ profile }] = usCoreClaimsOf(resource);
  const keys = Object.keys(resource);
  for (const element of profile.snapshot?.element ?? []) {
    const parts = (element.path ?? '').split('.');
    if ((element.min ?? 0) < 1 || parts.length !== 2 || element.id?.includes(':')) continue;
    const name = parts[1].replace('[x]', '');
    const matches = (k: string) => (parts[1].endsWith('[x]') ? k.replace(/^_/, '').startsWith(name) : k === name || k === `_${name}`);
    if (!keys.some(matches)) continue;
    return {
      broken: Object.fromEntries(Object.entries(resource).filter(([k]) => !matches(k))) as unknown as Resource,
      element: element.path,
    };
  }
  return undefined;
}

describeCorpus('US Core 6.1.0 examples', () => {
  beforeAll(() => loadFhirDefinitions());
  const examples = present
    ? fs
        .readdirSync(path.join(PACKAGE, 'example'))
        .map((f) => ({ file: f, resource: JSON.parse(fs.readFileSync(path.join(PACKAGE, 'example', f), 'utf8')) as Resource }))
    : [];
  const claimingAll = examples.filter((e) => usCoreClaimsOf(e.resource).length);
  // Types this service does not store yet: their examples cannot be written, whatever they claim.
  const claiming = claimingAll.filter((e) => isSupportedType(e.resource.resourceType));

  it('finds the 183 examples, 174 of which claim a US Core profile, all but MedicationDispense and Specimen of types stored here', () => {
    expect(examples).toHaveLength(183);
    expect(claimingAll).toHaveLength(174);
    expect([...new Set(claimingAll.filter((e) => !claiming.includes(e)).map((e) => e.resource.resourceType))].sort()).toEqual([
      'MedicationDispense',
      'Specimen',
    ]);
    expect(claiming).toHaveLength(172);
  });

  it('each example passes the US Core profile it claims', () => {
    const failures = claiming.map((e) => ({ file: e.file, problems: problems(e.resource) })).filter((f) => f.problems.length);
    expect(failures).toEqual([]);
  });

  it('a broken copy of each (a required element taken out) fails, naming the element and the profile', () => {
    const missed: string[] = [];
    for (const e of claiming) {
      const change = withoutRequiredElement(e.resource);
      if (!change) {
        missed.push(`${e.file}: nothing required to take out`);
        continue;
      }
      const found = problems(change.broken);
      if (!found.some((p) => p.includes('US Core profile'))) missed.push(`${e.file}: without ${change.element} passed`);
    }
    expect(missed).toEqual([]);
  });
});

describe('US Core on the FHIR API', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.close());

  const usCorePatient = {
    resourceType: 'Patient',
    meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'] },
    name: [{ family: 'Claim', given: ['Una'] }],
  };

  it('refuses a Patient claiming us-core-patient without identifier and gender (400 naming each), and writes nothing', async () => {
    const res = await app.request('/fhir/Patient', { method: 'POST', json: usCorePatient });
    expect(res.status).toBe(400);
    const outcome = (await res.json()) as any;
    const texts = outcome.issue.map((i: any) => `${i.expression?.[0]}: ${i.details.text}`);
    expect(texts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Patient\.identifier: .*US Core profile USCorePatientProfile/),
        expect.stringMatching(/^Patient\.gender: .*US Core profile USCorePatientProfile/),
      ]),
    );
    const search = (await (await app.request('/fhir/Patient?family=Claim')).json()) as any;
    expect(search.total ?? search.entry?.length ?? 0).toBe(0);
  });

  it('takes the same Patient once it meets the profile, and one claiming nothing as before', async () => {
    const meets = { ...usCorePatient, identifier: [{ system: 'urn:oid:1.2.3', value: 'u-1' }], gender: 'female' };
    expect((await app.request('/fhir/Patient', { method: 'POST', json: meets })).status).toBe(201);
    expect(
      (await app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Patient', name: [{ family: 'Plain' }] } })).status,
    ).toBe(201);
  });

  it('a resource claiming US Core is held to everything the R4 base holds it to as well', async () => {
    const res = await app.request('/fhir/Patient', {
      method: 'POST',
      json: {
        ...usCorePatient,
        identifier: [{ system: 'urn:oid:1.2.3', value: 'u-2' }],
        gender: 'female',
        birthDate: '2020-13-45',
        nickname: 'Una',
      },
    });
    expect(res.status).toBe(400);
    const texts = ((await res.json()) as any).issue.map((i: any) => `${i.expression?.[0]}: ${i.details.text}`).join('\n');
    expect(texts).toContain('Patient.birthDate');
    expect(texts).toContain('nickname');
  });

  it('refuses a claim of a profile of another type', async () => {
    const res = await app.request('/fhir/Observation', {
      method: 'POST',
      json: {
        resourceType: 'Observation',
        meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'] },
        status: 'final',
        code: { text: 'x' },
      },
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('a profile of Patient, not Observation');
  });

  it('the CapabilityStatement instantiates the US Core server and lists US Core profiles per type', async () => {
    const cs = (await (await app.request('/fhir/metadata', { token: null })).json()) as any;
    expect(cs.instantiates).toEqual(['http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server|6.1.0']);
    const of = (type: string) => cs.rest[0].resource.find((r: any) => r.type === type)?.supportedProfile ?? [];
    expect(of('Patient')).toEqual(['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient']);
    expect(of('Observation')).toEqual(
      expect.arrayContaining([
        'http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab',
        'http://hl7.org/fhir/us/core/StructureDefinition/us-core-vital-signs',
      ]),
    );
    expect(of('Condition')).toEqual(
      expect.arrayContaining(['http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns']),
    );
  });
});

describe('US Core searches on the FHIR API', () => {
  let app: TestApp;
  let ada: string;
  beforeAll(async () => {
    app = await startTestApp();
    const loaded = await app.request('/fhir', { method: 'POST', json: buildDemoFamily(localCalendarDay(new Date())) });
    expect(loaded.status).toBe(200);
    const found = (await (await app.request('/fhir/Patient?given=Ada&family=Park')).json()) as any;
    ada = found.entry[0].resource.id;
  });
  afterAll(() => app?.close());

  /** The matches of a search (includes left out), failing on any status but 200. */
  async function search(query: string): Promise<any[]> {
    const res = await app.request(`/fhir/${query}`);
    expect(res.status).toBe(200);
    const bundle = (await res.json()) as any;
    return (bundle.entry ?? []).map((e: any) => ({ ...e.resource, mode: e.search?.mode }));
  }

  it('Observation?patient=&category=&date=, Condition?patient=&category=, Encounter?patient=&date= find what they name', async () => {
    const labs = await search(
      `Observation?patient=${ada}&category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory&date=ge1900-01-01`,
    );
    expect(labs.length).toBeGreaterThan(0);
    expect(labs.every((o) => o.category.some((c: any) => c.coding.some((k: any) => k.code === 'laboratory')))).toBe(true);
    expect(await search(`Observation?patient=${ada}&category=laboratory&date=lt1900-01-01`)).toEqual([]);
    const problems = await search(`Condition?patient=${ada}&category=problem-list-item`);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((c) => c.subject.reference === `Patient/${ada}`)).toBe(true);
    const visits = await search(`Encounter?patient=${ada}&date=ge1900-01-01`);
    expect(visits.length).toBeGreaterThan(0);
    expect(await search(`Encounter?patient=${ada}&date=ge2999-01-01`)).toEqual([]);
  });

  it('DocumentReference?patient=&type= and Condition?_revinclude=Provenance:target', async () => {
    const documents = await search(`DocumentReference?patient=${ada}`);
    expect(documents.length).toBeGreaterThan(0);
    const type = documents[0].type.coding[0];
    const typed = await search(`DocumentReference?patient=${ada}&type=${encodeURIComponent(`${type.system}|${type.code}`)}`);
    expect(typed.map((d) => d.id)).toContain(documents[0].id);
    const [condition] = await search(`Condition?patient=${ada}&category=problem-list-item`);
    const provenance = await app.request('/fhir/Provenance', {
      method: 'POST',
      json: {
        resourceType: 'Provenance',
        target: [{ reference: `Condition/${condition.id}` }],
        recorded: '2026-01-01T00:00:00Z',
        agent: [{ who: { display: 'Import' } }],
      },
    });
    expect(provenance.status).toBe(201);
    const withProvenance = await search(`Condition?_id=${condition.id}&_revinclude=Provenance:target`);
    expect(withProvenance.map((r) => `${r.resourceType}:${r.mode}`).sort()).toEqual(['Condition:match', 'Provenance:include']);
  });
});
