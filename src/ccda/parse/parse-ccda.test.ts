/**
 * The real-world pains, each asserted with exact values on the golden fixtures (the full JSON
 * is compared in ccda-golden.test.ts; here each behaviour is named and checked on its own).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type {
  AllergyIntolerance,
  Composition,
  Condition,
  DiagnosticReport,
  DocumentReference,
  Immunization,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Resource,
} from '@medplum/fhirtypes';
import type { CcdaImportResult } from './ccda-import-types';
import { parseCcda } from './parse-ccda';

const DIR = path.resolve(__dirname, '../../../fixtures/ccda-golden');
const load = (name: string): CcdaImportResult => parseCcda(fs.readFileSync(path.join(DIR, `${name}.xml`)));
function all<T extends Resource>(r: CcdaImportResult, type: T['resourceType']): T[] {
  return r.bundle.entry.map((e) => e.resource).filter((x): x is T => x.resourceType === type);
}
const byUrl = (r: CcdaImportResult, url: string | undefined): Resource | undefined =>
  r.bundle.entry.find((e) => e.fullUrl === url)?.resource;

describe('negationInd and "no known"', () => {
  const r = load('no-known-and-negation');

  it('negated allergy with no allergen -> No known drug allergy (type decides which "no known")', () => {
    const [nka, refuted] = all<AllergyIntolerance>(r, 'AllergyIntolerance');
    expect(nka.code?.coding).toEqual([{ system: 'http://snomed.info/sct', code: '409137002', display: 'No known drug allergy' }]);
    expect(nka.verificationStatus?.coding?.[0].code).toBe('confirmed');
    expect(nka.clinicalStatus?.coding?.[0].code).toBe('active');
    expect(nka.reaction).toBeUndefined();
    expect(refuted.code?.coding?.[0]).toEqual({
      system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
      code: '7980',
      display: 'Penicillin G',
    });
    expect(refuted.verificationStatus?.coding?.[0].code).toBe('refuted');
  });

  it('negated generic problem -> No current problems; negated specific problem -> refuted', () => {
    const [none, asthma] = all<Condition>(r, 'Condition');
    expect(none.code?.coding).toEqual([
      { system: 'http://snomed.info/sct', code: '160245001', display: 'No current problems or disability' },
    ]);
    expect(none.onsetDateTime).toBe('2014-01');
    expect(asthma.code?.coding?.[0].code).toBe('195967001');
    expect(asthma.verificationStatus?.coding?.[0].code).toBe('refuted');
  });

  it('negated medication with a nullFlavored drug -> no-known-medications, never a positive drug', () => {
    const [statement] = all<MedicationStatement>(r, 'MedicationStatement');
    expect(statement.medicationCodeableConcept?.coding).toEqual([
      {
        system: 'http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips',
        code: 'no-known-medications',
        display: 'No known medications',
      },
    ]);
    expect(statement.effectivePeriod).toBeUndefined();
  });

  it('negated immunization -> not-done with the refusal reason', () => {
    const [imm] = all<Immunization>(r, 'Immunization');
    expect(imm.status).toBe('not-done');
    expect(imm.statusReason?.coding?.[0]).toEqual({
      system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
      code: 'PATOBJ',
      display: 'patient objection',
    });
    expect(imm.occurrenceDateTime).toBe('2013-11-15');
  });

  it('counts negated entries per section', () => {
    expect(r.sections.map((s) => [s.loinc, s.entries, s.resourcesCreated, s.negated])).toEqual([
      ['48765-2', 2, 2, 2],
      ['11450-4', 2, 2, 2],
      ['10160-0', 1, 1, 1],
      ['11369-6', 1, 1, 1],
    ]);
  });

  it('keeps the document time zone and the patient identifiers', () => {
    expect(r.document.effectiveTime).toBe('2014-01-02T10:30:00-05:00');
    expect(r.document.release).toBe('R2.1');
    const patient = byUrl(r, r.patientFullUrl);
    expect(patient).toMatchObject({
      identifier: [
        { system: 'urn:oid:2.16.840.1.113883.19.5.99999.2', value: 'MRN-1001' },
        { system: 'http://hl7.org/fhir/sid/us-ssn', value: '111-00-2222' },
      ],
      birthDate: '1980-03-15',
    });
  });
});

describe('result and vital-sign organizers (C-CDA R1.1 templates)', () => {
  const r = load('results-vitals-r11');

  it('detects R1.1 and the progress-note type; partial document date kept', () => {
    expect([r.document.release, r.document.kind, r.document.effectiveTime]).toEqual(['R1.1', 'progress-note', '2014-02']);
  });

  it('result organizer -> DiagnosticReport whose result lists the member Observations', () => {
    const [report] = all<DiagnosticReport>(r, 'DiagnosticReport');
    expect(report.effectivePeriod).toEqual({ start: '2014-01-02T10:30:00-05:00', end: '2014-01-02T11:30:00-05:00' });
    const members = (report.result ?? []).map((ref) => byUrl(r, ref.reference) as Observation);
    expect(
      members.map((m) => [m.code.text, m.valueQuantity?.value, m.valueQuantity?.unit, m.interpretation?.[0].coding?.[0].code]),
    ).toEqual([
      ['WBC', 6.7, '10*3/uL', 'N'],
      ['Hemoglobin', 9.1, 'g/dL', 'L'],
    ]);
    expect(members[0].referenceRange).toEqual([
      {
        low: { value: 4.3, unit: '10*3/uL', system: 'http://unitsofmeasure.org', code: '10*3/uL' },
        high: { value: 10.8, unit: '10*3/uL', system: 'http://unitsofmeasure.org', code: '10*3/uL' },
      },
    ]);
  });

  it('vital signs organizer -> 85353-1 panel with hasMember, members categorised vital-signs', () => {
    const panel = all<Observation>(r, 'Observation').find((o) => o.hasMember) as Observation;
    expect(panel.code.coding?.[0].code).toBe('85353-1');
    const members = (panel.hasMember ?? []).map((ref) => byUrl(r, ref.reference) as Observation);
    expect(members.map((m) => [m.code.coding?.[0].code, m.valueQuantity?.value, m.category?.[0].coding?.[0].code])).toEqual([
      ['8480-6', 120, 'vital-signs'],
      ['8462-4', 80, 'vital-signs'],
    ]);
  });
});

describe('reused ids, allergy categories, medications and unknown sections', () => {
  const r = load('reused-ids-and-medications');

  it('three allergies sharing one id stay three resources with distinct identifiers, and warn', () => {
    const allergies = all<AllergyIntolerance>(r, 'AllergyIntolerance');
    expect(allergies.map((a) => a.identifier?.[0].value)).toEqual(['ALLERGY', 'ALLERGY#48765-2/2', 'ALLERGY#48765-2/3']);
    expect(r.warnings.filter((w) => w.message.startsWith('id ALLERGY'))).toHaveLength(2);
  });

  it('allergy category comes from the allergy type code, not a constant', () => {
    expect(all<AllergyIntolerance>(r, 'AllergyIntolerance').map((a) => a.category)).toEqual([['medication'], ['food'], ['environment']]);
  });

  it('originalText/reference resolves to the narrative text', () => {
    expect(all<AllergyIntolerance>(r, 'AllergyIntolerance')[0].code?.text).toBe('Penicillin - hives');
    expect(all<MedicationStatement>(r, 'MedicationStatement')[0].dosage?.[0].text).toBe('one tablet by mouth daily');
  });

  it('medication: RxNorm first, NDC translation kept; EVN -> MedicationStatement, INT -> MedicationRequest', () => {
    const [statement] = all<MedicationStatement>(r, 'MedicationStatement');
    expect(statement.medicationCodeableConcept?.coding?.map((c) => [c.system, c.code])).toEqual([
      ['http://www.nlm.nih.gov/research/umls/rxnorm', '314076'],
      ['http://hl7.org/fhir/sid/ndc', '00093-7339-01'],
    ]);
    expect(statement.dosage?.[0].timing).toEqual({ repeat: { period: 24, periodUnit: 'h' } });
    const [request] = all<MedicationRequest>(r, 'MedicationRequest');
    expect([request.intent, request.medicationCodeableConcept?.coding?.[0].code]).toEqual(['order', '197361']);
  });

  it('an entry with only a nullFlavored id gets a document-position identifier (re-import matches it)', () => {
    const [request] = all<MedicationRequest>(r, 'MedicationRequest');
    expect(request.identifier).toEqual([
      { system: 'urn:chartkeeper:ccda-entry-position', value: '2.16.840.1.113883.19.5.99999.1^golden-med-1/10160-0/2' },
    ]);
  });

  it('an unknown section keeps its narrative in the Composition and only warns', () => {
    const composition = byUrl(r, r.compositionFullUrl) as Composition;
    const vendor = composition.section?.find((s) => s.title === 'Vendor specific section');
    expect(vendor?.text?.div).toBe('<div xmlns="http://www.w3.org/1999/xhtml"><p>Kept as narrative</p></div>');
    expect(vendor?.entry).toBeUndefined();
    expect(r.sections[2]).toMatchObject({ kind: 'narrative-only', entries: 1, unmapped: 1 });
  });

  it('uses conditional requests so a second import restates instead of duplicating', () => {
    const requests = r.bundle.entry.map((e) => `${e.resource.resourceType} ${e.request.method} ${e.request.ifNoneExist ?? e.request.url}`);
    expect(requests).toContain('Practitioner POST identifier=http%3A%2F%2Fhl7.org%2Ffhir%2Fsid%2Fus-npi|1234567893&family:exact=Seven');
    expect(requests).toContain('AllergyIntolerance PUT AllergyIntolerance?identifier=urn%3Aoid%3A1.3.6.1.4.1.22812.3.99930.3|ALLERGY');
    expect(parseCcda(fs.readFileSync(path.join(DIR, 'reused-ids-and-medications.xml')))).toEqual(r);
  });
});

describe('unstructured document', () => {
  it('keeps the nonXMLBody as a DocumentReference attachment', () => {
    const r = load('unstructured');
    const [doc] = all<DocumentReference>(r, 'DocumentReference');
    expect(doc.content[0].attachment).toEqual({
      contentType: 'text/plain',
      title: 'Unstructured discharge summary',
      data: Buffer.from('Discharge summary text kept as an attachment.').toString('base64'),
    });
    expect(r.document.kind).toBe('unstructured');
  });
});

describe('document types', () => {
  const doc = (template: string, code: string): string =>
    `<ClinicalDocument xmlns="urn:hl7-org:v3"><templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/><templateId root="${template}" extension="2015-08-01"/><id root="1.2.3" extension="${code}"/><code code="${code}" codeSystem="2.16.840.1.113883.6.1"/><effectiveTime value="20200101"/><recordTarget><patientRole><id root="1.2.3.4" extension="p1"/></patientRole></recordTarget><component><structuredBody><component><section><code code="X" codeSystem="1.2.3"/><title>Other</title><text>kept</text></section></component></structuredBody></component></ClinicalDocument>`;
  it.each([
    ['2.16.840.1.113883.10.20.22.1.2', '34133-9', 'ccd'],
    ['2.16.840.1.113883.10.20.22.1.14', '57133-1', 'referral-note'],
    ['2.16.840.1.113883.10.20.22.1.8', '18842-5', 'discharge-summary'],
    ['2.16.840.1.113883.10.20.22.1.9', '11506-3', 'progress-note'],
    ['2.16.840.1.113883.10.20.22.1.4', '11488-4', 'consultation-note'],
    ['2.16.840.1.113883.10.20.22.1.3', '34117-2', 'history-and-physical'],
    ['2.16.840.1.113883.10.20.22.1.13', '18761-7', 'transfer-summary'],
    ['2.16.840.1.113883.10.20.22.1.15', '52521-2', 'care-plan'],
  ])('%s (%s) is a %s with its Patient and narrative kept', (template, code, kind) => {
    const result = parseCcda(doc(template, code));
    expect(result.document.kind).toBe(kind);
    expect(result.document.release).toBe('R2.1');
    expect(all(result, 'Patient')).toHaveLength(1);
    const composition = byUrl(result, result.compositionFullUrl) as Composition;
    expect(composition.section?.[0].text?.div).toBe('<div xmlns="http://www.w3.org/1999/xhtml">kept</div>');
  });
});
