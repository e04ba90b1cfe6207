import fs from 'node:fs';
import path from 'node:path';
import type { AllergyIntolerance, Bundle, OperationOutcome, Parameters, Patient, Provenance } from '@medplum/fhirtypes';
import { startTestApp, TestApp } from './support/test-app';

const CORPUS = path.resolve(__dirname, '../../shared/corpus/ccda');
const R21_CCD = path.join(CORPUS, 'hl7-cda-ccda-2.1/examples/C-CDA_R2-1_CCD.xml');
const haveCorpus = fs.existsSync(R21_CCD);
if (!haveCorpus) console.warn(`skipping C-CDA import API tests: ${R21_CCD} is absent (../shared/corpus not beside the checkout)`);

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ config: { maxXmlBytes: 2 * 1024 * 1024 } });
});
afterAll(() => app.close());

function importXml(body: string | Buffer, contentType = 'application/xml'): Promise<Response> {
  return app.request('/fhir/$import-ccda', { method: 'POST', headers: { 'Content-Type': contentType }, body });
}

function param(result: Parameters, name: string) {
  return result.parameter?.find((p) => p.name === name);
}

function counts(result: Parameters, name: string): Record<string, number> {
  return Object.fromEntries((param(result, name)?.part ?? []).map((p) => [p.name, p.valueInteger!]));
}

const maybe = haveCorpus ? test : test.skip;

maybe('a document becomes FHIR once: a second import creates nothing and changes nothing', async () => {
  const xml = fs.readFileSync(R21_CCD);
  const first = await importXml(xml);
  expect(first.status).toBe(201);
  const result = (await first.json()) as Parameters;
  expect(param(result, 'patientMatch')?.valueCode).toBe('created');
  expect(param(result, 'release')?.valueString).toBe('R2.1');
  const created = counts(result, 'created');
  expect(created).toMatchObject({ Patient: 1, DocumentReference: 1, Binary: 1, Composition: 1 });
  expect(created.AllergyIntolerance).toBeGreaterThanOrEqual(1);
  const patientRef = param(result, 'patient')!.valueReference!.reference!;

  const allergies = (await (await app.request(`/fhir/AllergyIntolerance?patient=${patientRef}`)).json()) as Bundle;
  expect(allergies.total).toBe(created.AllergyIntolerance);
  const provenance = (await (
    await app.request(`/fhir/Provenance?target=${(allergies.entry![0].resource as AllergyIntolerance).id}`)
  ).json()) as Bundle;
  expect((provenance.entry?.[0].resource as Provenance).entity?.[0].what.reference).toBe(
    param(result, 'document')!.valueReference!.reference,
  );

  const again = await importXml(xml);
  expect(again.status).toBe(200);
  const second = (await again.json()) as Parameters;
  expect(param(second, 'alreadyImported')?.valueBoolean).toBe(true);
  expect(param(second, 'patient')?.valueReference?.reference).toBe(patientRef);
  expect(counts(second, 'created')).toEqual({});
  expect(counts(second, 'updated')).toEqual({});
  const total = (await (await app.request('/fhir/AllergyIntolerance?_summary=count')).json()) as Bundle;
  expect(total.total).toBe(created.AllergyIntolerance);

  // A newer document restating an entry with a change updates it and adds nothing else clinical.
  const newer = xml
    .toString('utf8')
    .replace(
      '<id extension="TT988" root="2.16.840.1.113883.19.5.99999.1"/>',
      '<id extension="TT989" root="2.16.840.1.113883.19.5.99999.1"/>',
    )
    .replace(/<statusCode code="active"\/>/, '<statusCode code="completed"/>');
  const third = (await (await importXml(newer)).json()) as Parameters;
  expect(param(third, 'alreadyImported')?.valueBoolean).toBe(false);
  expect(param(third, 'patientMatch')?.valueCode).toBe('identifier');
  // Per-document resources are new (the document, its Composition and its plan of treatment); entries are restated.
  expect(Object.keys(counts(third, 'created')).sort()).toEqual(['Binary', 'CarePlan', 'Composition', 'DocumentReference']);
  expect(Object.values(counts(third, 'updated')).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
});

maybe('the patient is matched by name, birth date and one more demographic', async () => {
  const existing: Patient = {
    resourceType: 'Patient',
    name: [{ family: 'Betterhalf', given: ['Eve'] }],
    birthDate: '1975-05-01',
    gender: 'female',
    address: [{ postalCode: '97867' }],
  };
  // A fresh app, so the earlier test's imported Eve does not count as a second candidate.
  const other = await startTestApp();
  try {
    const stored = (await (await other.request('/fhir/Patient', { method: 'POST', json: existing })).json()) as Patient;
    const res = await other.request('/fhir/$import-ccda', {
      method: 'POST',
      headers: { 'Content-Type': 'application/xml' },
      body: fs.readFileSync(R21_CCD),
    });
    const result = (await res.json()) as Parameters;
    expect(param(result, 'patientMatch')?.valueCode).toBe('demographics');
    expect(param(result, 'matchedBy')?.valueString).toBe('postal code');
    expect(param(result, 'patient')?.valueReference?.reference).toBe(`Patient/${stored.id}`);
    expect(counts(result, 'created').Patient).toBeUndefined();
  } finally {
    await other.close();
  }
});

test('bad documents get a clear OperationOutcome and write nothing', async () => {
  const before = ((await (await app.request('/fhir/Patient?_summary=count')).json()) as Bundle).total;
  const malformed = await importXml('<ClinicalDocument xmlns="urn:hl7-org:v3">\n  <title>x</titel>\n</ClinicalDocument>');
  expect(malformed.status).toBe(400);
  const malformedIssue = ((await malformed.json()) as OperationOutcome).issue[0];
  expect(malformedIssue.details?.text).toMatch(/line 2, column \d+/);
  // Said once, in the text, and as the issue's location.
  expect(malformedIssue.details?.text).not.toMatch(/\(line .*\(line /);
  expect(malformedIssue.expression?.[0]).toMatch(/^line 2, column \d+$/);

  const dtd = await importXml(
    '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<ClinicalDocument xmlns="urn:hl7-org:v3">&e;</ClinicalDocument>',
  );
  expect(dtd.status).toBe(400);

  const notCda = await importXml('<html><body>hello</body></html>');
  expect(notCda.status).toBe(400);

  // A CDA about nobody (no recordTarget, or one with neither an id nor a name) would only create a nameless Patient.
  for (const nobody of [
    '<ClinicalDocument xmlns="urn:hl7-org:v3"/>',
    '<ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><patient><birthTime value="19840302"/></patient></patientRole></recordTarget></ClinicalDocument>',
  ]) {
    const res = await importXml(nobody);
    expect(res.status).toBe(400);
    expect(((await res.json()) as OperationOutcome).issue[0].details?.text).toContain('names no patient');
  }

  const wrongType = await importXml('{"resourceType":"Patient"}', 'application/json');
  expect(wrongType.status).toBe(415);

  const huge = await importXml(`<ClinicalDocument xmlns="urn:hl7-org:v3">${' '.repeat(3 * 1024 * 1024)}</ClinicalDocument>`);
  expect(huge.status).toBe(413);

  expect(((await (await app.request('/fhir/Patient?_summary=count')).json()) as Bundle).total).toBe(before);
});
