import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, DocumentReference, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { unzipSync, strFromU8 } from 'fflate';
import { buildDemoFamily, localCalendarDay } from '../fixtures/demo-family';
import { startTestApp, TestApp } from './support/test-app';
import { CCDA_VALIDATOR, ccdaValidatorMissing } from './support/ccda-validator';

const VALIDATOR = CCDA_VALIDATOR;
let app: TestApp;
let ada: Patient;

beforeAll(async () => {
  app = await startTestApp();
  const loaded = await app.request('/fhir', { method: 'POST', json: buildDemoFamily(localCalendarDay(new Date())) });
  expect(loaded.status).toBe(200);
  const found = (await (await app.request('/fhir/Patient?name=Ada')).json()) as Bundle;
  ada = found.entry![0].resource as Patient;
});
afterAll(() => app.close());

test('$ccda answers the C-CDA XML, an HTML preview and an XDM zip', async () => {
  const xml = await app.request(`/fhir/Patient/${ada.id}/$ccda`);
  expect(xml.status).toBe(200);
  expect(xml.headers.get('content-type')).toBe('application/xml; charset=utf-8');
  const doc = await xml.text();
  expect(doc).toContain('<templateId root="2.16.840.1.113883.10.20.22.1.2" extension="2015-08-01"/>');
  expect(doc).toContain('<family>Park</family>');

  const html = await app.request(`/fhir/Patient/${ada.id}/$ccda?_format=html`);
  expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const page = await html.text();
  expect(page).toContain('Allergies');
  expect(page).not.toMatch(/<script/i);

  const zip = await app.request(`/fhir/Patient/${ada.id}/$ccda`, { headers: { Accept: 'application/zip' } });
  expect(zip.headers.get('content-type')).toBe('application/zip');
  const files = unzipSync(new Uint8Array(await zip.arrayBuffer()));
  expect(Object.keys(files).sort()).toEqual([
    'IHE_XDM/SUBSET01/DOC0001.HTM',
    'IHE_XDM/SUBSET01/DOC0001.XML',
    'IHE_XDM/SUBSET01/METADATA.XML',
    'INDEX.HTM',
    'README.TXT',
  ]);
  expect(strFromU8(files['IHE_XDM/SUBSET01/DOC0001.XML'])).toContain('<ClinicalDocument');
  // The readable copy is the preview's HTML, and INDEX.HTM links to it.
  const created = (html: string) => html.replace(/(Document created<\/dt><dd>)[^<]*/, '$1');
  expect(created(strFromU8(files['IHE_XDM/SUBSET01/DOC0001.HTM']))).toBe(created(page));
  expect(strFromU8(files['INDEX.HTM'])).toContain('<a href="IHE_XDM/SUBSET01/DOC0001.HTM">');
});

test('$ccda refuses bad input with an OperationOutcome', async () => {
  const cases: [string, number][] = [
    [`/fhir/Patient/no-such-patient/$ccda`, 404],
    [`/fhir/Patient/${ada.id}/$ccda?start=2024-05-02&end=2024-05-01`, 400],
    [`/fhir/Patient/${ada.id}/$ccda?start=2024-02-30`, 400],
    [`/fhir/Patient/${ada.id}/$ccda?start=last-tuesday`, 400],
    [`/fhir/Patient/${ada.id}/$ccda?_format=pdf`, 400],
  ];
  for (const [url, status] of cases) {
    const res = await app.request(url);
    expect([url, res.status]).toEqual([url, status]);
    expect(((await res.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
  }
});

test('$docref renders an on-demand CCD into a Binary the DocumentReference points at', async () => {
  const res = await app.request(`/fhir/DocumentReference/$docref?patient=${ada.id}&on-demand=true`);
  expect(res.status).toBe(200);
  const bundle = (await res.json()) as Bundle;
  const reference = bundle.entry![0].resource as DocumentReference;
  expect(reference.type?.coding?.[0].code).toBe('34133-9');
  expect(reference.subject?.reference).toBe(`Patient/${ada.id}`);
  const url = reference.content[0].attachment.url!;
  const binary = await app.request(`/fhir/${url}`, { headers: { Accept: 'application/xml' } });
  expect(binary.headers.get('content-type')).toContain('application/xml');
  const stored = await binary.text();
  expect(stored).toContain('<ClinicalDocument');
  // Stored CCDs say what the patient may see: staff's own $ccda shows the unreleased lab report, the stored one not.
  const preliminary = (await (await app.request(`/fhir/DiagnosticReport?patient=${ada.id}&status=preliminary`)).json()) as Bundle;
  const hiddenId = preliminary.entry![0].resource!.id!;
  const staffView = await (await app.request(`/fhir/Patient/${ada.id}/$ccda`)).text();
  expect(staffView).toContain(hiddenId);
  expect(stored).not.toContain(hiddenId);
  // Without on-demand, the stored one for the same (all-time) period is returned.
  const again = (await (await app.request(`/fhir/DocumentReference/$docref?patient=${ada.id}`)).json()) as Bundle;
  expect(again.entry?.map((e) => e.resource?.id)).toEqual([reference.id]);
  expect((await app.request('/fhir/DocumentReference/$docref')).status).toBe(400);
});

const validatorMissing = fs.existsSync(path.resolve(__dirname, '../../shared/corpus')) ? ccdaValidatorMissing() : 'corpus absent';
if (validatorMissing) console.warn(`Skipping the validation of what the API serves: ${validatorMissing}`);
(validatorMissing ? test.skip : test)(
  'what the API serves passes the CDA schema and the C-CDA R2.1 Schematron',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccda-api-'));
    const today = localCalendarDay(new Date()).toISOString().slice(0, 10);
    const lastYear = `${Number(today.slice(0, 4)) - 1}${today.slice(4)}`;
    const files: string[] = [];
    for (const [name, query] of [
      ['all', ''],
      ['range', `?start=${lastYear}&end=${today}`],
    ]) {
      const res = await app.request(`/fhir/Patient/${ada.id}/$ccda${query}`);
      const file = path.join(dir, `ada-${name}.xml`);
      fs.writeFileSync(file, await res.text());
      files.push(file);
    }
    // Asynchronously: a synchronous wait would stall the app's event loop (it runs in this process) for the whole
    // validation, and the keep-alive sockets of the next requests would be reset as both ends' timers fire at once.
    let output: string;
    try {
      output = (await promisify(execFile)(VALIDATOR, ['--quiet', ...files], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (err) {
      output = (err as { stdout: string }).stdout;
    }
    expect(
      output
        .trim()
        .split('\n')
        .map((line) => line.split('\t').slice(1).join(' ')),
    ).toEqual(files.map(() => 'xsd=0 schematron=0'));
    fs.rmSync(dir, { recursive: true });
  },
  180_000,
);

/** Resources of every type the import writes, counted over the whole database. */
async function countsByType(): Promise<Record<string, number>> {
  const types = [
    'Patient',
    'Practitioner',
    'PractitionerRole',
    'Organization',
    'Location',
    'Device',
    'Medication',
    'Condition',
    'AllergyIntolerance',
    'Immunization',
    'ImmunizationRecommendation',
    'MedicationRequest',
    'MedicationStatement',
    'Encounter',
    'Procedure',
    'DiagnosticReport',
    'Observation',
    'Goal',
    'CarePlan',
    'CareTeam',
    'ServiceRequest',
    'CommunicationRequest',
    'Coverage',
    'FamilyMemberHistory',
    'RelatedPerson',
  ];
  const counts = await Promise.all(
    types.map(async (type) => ((await (await app.request(`/fhir/${type}?_summary=count`)).json()) as Bundle).total as number),
  );
  return Object.fromEntries(types.map((type, i) => [type, counts[i]]));
}

const TODAY = localCalendarDay(new Date()).toISOString().slice(0, 10);
test.each([
  ['all time', ''],
  ['the last year', `?start=${Number(TODAY.slice(0, 4)) - 1}${TODAY.slice(4)}&end=${TODAY}`],
  ['one day', `?start=${TODAY}&end=${TODAY}`],
])("Ada's CCD (%s) imported back creates and changes nothing, clinical or administrative", async (_name, query) => {
  const before = await countsByType();
  const xml = await (await app.request(`/fhir/Patient/${ada.id}/$ccda${query}`)).text();
  const imported = await app.request('/fhir/$import-ccda', { method: 'POST', body: xml, headers: { 'Content-Type': 'application/xml' } });
  // The received document itself is new, and kept (DocumentReference, Binary, Composition, Provenance); nothing else.
  expect(imported.status).toBe(201);
  const result = (await imported.json()) as { parameter: { name: string; part?: { name: string; valueInteger?: number }[] }[] };
  const tally = (name: string) =>
    Object.fromEntries((result.parameter.find((p) => p.name === name)?.part ?? []).map((p) => [p.name, p.valueInteger]));
  expect(tally('created')).toEqual({ Binary: 1, Composition: 1, DocumentReference: 1 });
  expect(tally('updated')).toEqual({});
  expect(await countsByType()).toEqual(before);
});
