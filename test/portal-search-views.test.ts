/**
 * The portal searches serve each caller exactly what they served before the portal caller's path was made faster
 * (issue 22), on a record that holds what access hides: unreleased and entered-in-error results, documents and
 * messages, results of an unreleased report or document, another patient's Condition that names Ada, and an activity
 * history naming all of them (and shared resources, an unknown type, a reference that is no FHIR reference, an agent
 * whose name needs escaping in JSON). Each page, its entries' full URLs and JSON in order, is compared with
 * test/support/portal-search-views-recorded.json, recorded per database by the searches as they were before.
 * RECORD_SEARCH_VIEWS=1 records anew: only ever with searches known to be right.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AuditEvent, Bundle, Resource } from '@medplum/fhirtypes';
import { type Kysely, sql } from 'kysely';
import { buildAuditEvent } from '../src/access/audit-event';
import type { AccessScope } from '../src/access/access-scope';
import { portalScope, staffScope } from '../src/access/portal-scope';
import type { Tables } from '../src/db/tables';
import { visibleEntityTexts } from '../src/fhir/audit-entity-view';
import { FixedClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { insertNew, prepareWrite } from '../src/fhir/resource-writer';
import { parseSearch } from '../src/fhir/search/parse-search';
import { PORTAL_SEARCHES } from './support/portal-searches';
import { loadSearchCorpus, type SearchCorpus } from './support/search-corpus';
import { openTestDatabase, type TestDatabase } from './support/test-database';

const RECORD = path.join(__dirname, 'support', 'portal-search-views-recorded.json');
const DATABASE = process.env.DATABASE_URL ? 'postgres' : 'pglite';
const LAB = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] };
const HBA1C = { coding: [{ system: 'http://loinc.org', code: '4548-4' }] };

let database: TestDatabase;
let corpus: SearchCorpus;
beforeAll(async () => {
  database = await openTestDatabase();
  corpus = await loadSearchCorpus(database.db, { patients: 4, prefix: 'pv' });
  await addHiddenRecords(database.db, corpus.patientIds[0], corpus.patientIds[1]);
}, 300_000);
afterAll(() => database?.close());

/** What access hides, in Ada's record, and her activity history naming it. */
async function addHiddenRecords(db: Kysely<Tables>, ada: string, other: string): Promise<void> {
  const subject = { reference: `Patient/${ada}` };
  const at = (day: number): string => new Date(Date.UTC(2026, 1, day, 9)).toISOString();
  const lab = (id: string, status: 'final' | 'preliminary' | 'entered-in-error', day: number): Resource => ({
    resourceType: 'Observation',
    id,
    status,
    subject,
    category: [LAB],
    code: HBA1C,
    effectiveDateTime: at(day),
    valueQuantity: { value: day, unit: '%' },
  });
  const resources: Resource[] = [
    lab('pv-x-prelim', 'preliminary', 1),
    lab('pv-x-error', 'entered-in-error', 2),
    lab('pv-x-of-report', 'final', 3),
    lab('pv-x-in-document', 'final', 4),
    lab('pv-x-shown', 'final', 5),
    {
      resourceType: 'DiagnosticReport',
      id: 'pv-x-report',
      status: 'preliminary',
      subject,
      code: HBA1C,
      result: [{ reference: 'Observation/pv-x-of-report' }],
    },
    {
      resourceType: 'DocumentReference',
      id: 'pv-x-draft',
      status: 'current',
      docStatus: 'preliminary',
      subject,
      date: at(6),
      content: [{ attachment: { contentType: 'text/plain', url: 'http://example.org/draft' } }],
      context: { related: [{ reference: 'Observation/pv-x-in-document' }] },
    },
    {
      resourceType: 'DocumentReference',
      id: 'pv-x-doc-error',
      status: 'entered-in-error',
      docStatus: 'final',
      subject,
      date: at(7),
      content: [{ attachment: { contentType: 'text/plain', url: 'http://example.org/error' } }],
    },
    {
      resourceType: 'Communication',
      id: 'pv-x-msg-error',
      status: 'entered-in-error',
      subject,
      sent: at(8),
      payload: [{ contentString: 'Sent to the wrong patient' }],
    },
    {
      resourceType: 'Condition',
      id: 'pv-x-cond-error',
      subject,
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'entered-in-error' }] },
      recordedDate: at(9),
    },
    {
      resourceType: 'Condition',
      id: 'pv-x-other-cond',
      subject: { reference: `Patient/${other}` },
      asserter: subject,
      recordedDate: at(10),
    },
  ];
  const named = [
    ['Observation/pv-x-prelim', 'Observation/pv-x-shown'],
    ['DocumentReference/pv-x-draft', 'DocumentReference/pv-x-doc-error', `DocumentReference/${ada}-doc-1`],
    ['Condition/pv-x-other-cond', 'Condition/pv-x-cond-error', `Condition/${ada}-cond-2`],
    ['Communication/pv-x-msg-error', `Communication/${ada}-msg-3`, 'Observation/pv-x-of-report', 'Observation/pv-x-in-document'],
    [`Practitioner/pv-someone`, `Organization/${corpus.organizationId}`, `Medication/pv-med-1`],
    ['Foo/1', 'urn:uuid:7f1c3c52-0d7e-4a39-9e2f-2b8f0c1e9a11', 'Device/pv-no-such-device'],
    [`Observation/${ada}-obs-4`, `Observation/${other}-obs-4`, 'Observation/pv-x-error'],
    ['Observation/pv-x-deleted-never-stored', `MedicationRequest/${ada}-rx-1`],
  ];
  named.forEach((list, i) => {
    // A staff member (a shared Practitioner), one whose name JSON escapes, and a family member (a RelatedPerson).
    const who =
      i === 3
        ? { reference: 'Practitioner/pv-quoted', display: 'Dr. "Bobby" O\'Neil \\ Jr.' }
        : i === 5
          ? { reference: 'RelatedPerson/pv-rp' }
          : { reference: 'Practitioner/pv-staff', display: 'Dr. Lee' };
    const agent = { who, requestor: true };
    resources.push({
      ...buildAuditEvent({ patientId: ada, agent, interaction: 'read', resources: list, recorded: new Date(at(11 + i)) }),
      id: `pv-x-audit-${i}`,
    });
  });
  const now = new Date('2026-03-01T12:00:00Z');
  const writes = resources.map((r) => prepareWrite(r as Resource & { id: string }, 1, now));
  await db.transaction().execute((trx) => insertNew(trx, writes));
}

const digest = (lines: string[]): string => createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 24);

/** What one page served, in a form to compare (and record): matches in order, includes in any order. */
function servedPage(bundle: Bundle): Record<string, unknown> {
  const entries = bundle.entry ?? [];
  const line = (e: NonNullable<Bundle['entry']>[number]): string => `${e.fullUrl} ${JSON.stringify(e.resource)}`;
  const matches = entries.filter((e) => e.search?.mode === 'match').map(line);
  const includes = entries
    .filter((e) => e.search?.mode === 'include')
    .map(line)
    .sort();
  return {
    matches: matches.length,
    matchDigest: digest(matches),
    includes: includes.length,
    includeDigest: digest(includes),
    total: bundle.total ?? null,
  };
}

test('the portal searches serve every caller what they served before: staff, full access, billing-only, mixed', async () => {
  const [ada, teen, child] = corpus.patientIds;
  const callers: Record<string, AccessScope> = {
    staff: staffScope(corpus.organizationId, 'staff'),
    'full (Ada)': portalScope([{ patientId: ada, level: 'full', self: true }], 'Ada'),
    'billing-only (a parent of a teen)': portalScope([{ patientId: teen, level: 'billing', self: false }], 'parent'),
    'full on a child, billing on a teen': portalScope(
      [
        { patientId: child, level: 'full', self: false, child: true },
        { patientId: teen, level: 'billing', self: false },
      ],
      'guardian',
    ),
    'full on Ada, from a family grant': portalScope([{ patientId: ada, level: 'full', self: false }], 'spouse'),
  };
  const pages: Record<string, string>[] = [{}, { _count: '7', _offset: '7' }, { _count: '5', _total: 'accurate' }];
  const served: Record<string, Record<string, unknown>> = {};
  for (const [caller, scope] of Object.entries(callers)) {
    const repo = new Repository(database.db, {
      scope,
      clock: new FixedClock(new Date('2026-03-01T20:00:00Z')),
      fhirBase: 'http://localhost/fhir',
    });
    for (const [p, patientId] of [ada, teen, child].entries()) {
      const searches = [
        ...PORTAL_SEARCHES(patientId),
        { name: '6b own lookup', type: 'Patient', query: { _id: patientId } },
        { name: '6c name lookup', type: 'Patient', query: { name: 'lee' } },
        { name: '8 results', type: 'DiagnosticReport', query: { patient: `Patient/${patientId}` } },
        { name: '9 asserted', type: 'Condition', query: { asserter: `Patient/${patientId}` } },
      ];
      for (const search of searches) {
        for (const page of pages) {
          const query = { ...search.query, ...page };
          const links = { url: `http://localhost/fhir/${search.type}`, params: new URLSearchParams(query) };
          served[`${caller} | ${search.name} | patient ${p} | ${new URLSearchParams(page).toString()}`] = servedPage(
            await repo.search(parseSearch(search.type, query), links),
          );
        }
      }
    }
  }
  const record = fs.existsSync(RECORD) ? (JSON.parse(fs.readFileSync(RECORD, 'utf8')) as Record<string, typeof served>) : {};
  if (process.env.RECORD_SEARCH_VIEWS === '1') {
    fs.writeFileSync(RECORD, `${JSON.stringify({ ...record, [DATABASE]: served }, null, 1)}\n`);
    return;
  }
  // Ada's activity history names what she may not see, so some of it is shown by type alone; staff see it all.
  const activity = (caller: string): Record<string, unknown> => served[`${caller} | 4 activity | patient 0 | `];
  expect(activity('full (Ada)').matches).toBe(15 + 8);
  expect(activity('full (Ada)').matchDigest).not.toBe(activity('staff').matchDigest);
  expect(activity('billing-only (a parent of a teen)').matches).toBe(0);
  expect(served).toEqual(record[DATABASE]);
}, 300_000);

test("Ada's activity history names what she may see, and the rest by its type alone", async () => {
  const [ada, other] = corpus.patientIds;
  const repo = new Repository(database.db, {
    scope: portalScope([{ patientId: ada, level: 'full', self: true }], 'Ada'),
    clock: new FixedClock(new Date('2026-03-01T20:00:00Z')),
    fhirBase: 'http://localhost/fhir',
  });
  const bundle = await repo.search(parseSearch('AuditEvent', { patient: `Patient/${ada}`, _sort: '-date', _count: '50' }));
  const named: Record<string, (string | undefined)[]> = {};
  for (const entry of bundle.entry ?? []) {
    const event = entry.resource as AuditEvent;
    if (!event.id?.startsWith('pv-x-audit-')) continue;
    named[event.id] = (event.entity ?? []).slice(1).map((e) => e.what?.reference ?? (e.what?.type ? `(${e.what.type})` : undefined));
  }
  expect(named).toEqual({
    'pv-x-audit-0': ['(Observation)', 'Observation/pv-x-shown'],
    'pv-x-audit-1': ['(DocumentReference)', '(DocumentReference)', `DocumentReference/${ada}-doc-1`],
    'pv-x-audit-2': ['(Condition)', '(Condition)', `Condition/${ada}-cond-2`],
    'pv-x-audit-3': ['(Communication)', `Communication/${ada}-msg-3`, '(Observation)', '(Observation)'],
    'pv-x-audit-4': ['Practitioner/pv-someone', `Organization/${corpus.organizationId}`, 'Medication/pv-med-1'],
    'pv-x-audit-5': ['(Foo)', undefined, '(Device)'],
    'pv-x-audit-6': [`Observation/${ada}-obs-4`, '(Observation)', '(Observation)'],
    'pv-x-audit-7': ['(Observation)', `MedicationRequest/${ada}-rx-1`],
  });
  expect(JSON.stringify(bundle)).not.toContain(other);
});

test('an AuditEvent naming only what the caller may see is served as stored; one naming more is rewritten', async () => {
  const [ada] = corpus.patientIds;
  const scope = portalScope([{ patientId: ada, level: 'full', self: true }], 'Ada');
  const { rows } = await sql<{ id: string; content: string }>`select id, content from resource
    where resource_type = 'AuditEvent' and id = any(${['pv-x-audit-4', 'pv-x-audit-0', 'pv-x-audit-3']}::text[]) order by id desc`.execute(
    database.db,
  );
  const [shared, quoted, hidden] = rows.map((row) => row.content);
  const texts = await visibleEntityTexts(database.db, scope, [shared, quoted, hidden]);
  // Shared resources and Ada's own Patient only: the very text stored.
  expect(texts[0]).toBe(shared);
  // An agent's name with quotes is read by parsing; the entities it names are cut down all the same.
  expect((JSON.parse(texts[1]) as AuditEvent).entity?.map((e) => e.what?.reference ?? e.what?.type)).toEqual([
    `Patient/${ada}`,
    'Communication',
    `Communication/${ada}-msg-3`,
    'Observation',
    'Observation',
  ]);
  expect((JSON.parse(texts[2]) as AuditEvent).entity?.map((e) => e.what?.reference ?? e.what?.type)).toEqual([
    `Patient/${ada}`,
    'Observation',
    'Observation/pv-x-shown',
  ]);
  expect(texts[2]).not.toContain('pv-x-prelim');
});

test('an AuditEvent whose text spells a reference another way is still cut down', async () => {
  const scope = portalScope([{ patientId: corpus.patientIds[0], level: 'full', self: true }], 'Ada');
  const event = (entity: string): string => `{"resourceType":"AuditEvent","id":"x","entity":[${entity}]}`;
  const texts = await visibleEntityTexts(database.db, scope, [
    event('{"what" : { "reference" : "Observation/pv-x-prelim" }}'),
    event('{"what":{"refer\\u0065nce":"Observation/pv-x-prelim"}}'),
    event('{"what":{"reference":5}}'),
    event('{"what":{"reference":"Observation/pv-x-shown"}}'),
  ]);
  expect(texts.map((text) => (JSON.parse(text) as AuditEvent).entity?.[0].what)).toEqual([
    { type: 'Observation' },
    { type: 'Observation' },
    {},
    { reference: 'Observation/pv-x-shown' },
  ]);
  expect(texts.join('')).not.toContain('pv-x-prelim');
});
