import type { AllergyIntolerance, Patient } from '@medplum/fhirtypes';
import { SECTION_DEFINITIONS } from '../../../ccda-templates';
import { attr, child, childNodes, childrenNamed, localName, nodeName, parseXmlTree, textContent, type XmlNode } from '../html/xml-tree';
import { XMLValidator } from 'fast-xml-parser';
import { mutateRecord } from '../../../test/support/ccda/record-mutator';
import { renderCcd } from './render-ccd';
import {
  SPARSE_PATIENT,
  SPARSE_RESOURCES,
  TEST_DOCTOR,
  TEST_ORG,
  TEST_PATIENT,
  TEST_RESOURCES,
} from '../../../test/support/ccda/ccd-test-record';

const NOW = new Date('2026-11-21T12:00:00Z');

function render(period?: { start?: string; end?: string }, resources = TEST_RESOURCES, patient: Patient = TEST_PATIENT): string {
  return renderCcd({ patient, resources, custodian: TEST_ORG, documentId: '6f1c7a55-7d0e-4a4e-9a55-1b5d4c1c0abc', now: NOW, period });
}

function documentOf(xml: string): XmlNode {
  return parseXmlTree(xml).find((n) => localName(n) === 'ClinicalDocument') as XmlNode;
}

function sectionsOf(xml: string): Map<string, XmlNode> {
  const body = child(documentOf(xml), 'component', 'structuredBody');
  const out = new Map<string, XmlNode>();
  for (const c of childrenNamed(body, 'component')) {
    const s = child(c, 'section') as XmlNode;
    out.set(attr(child(s, 'code'), 'code') as string, s);
  }
  return out;
}

function walk(node: XmlNode, visit: (n: XmlNode) => void): void {
  visit(node);
  for (const c of childNodes(node)) walk(c, visit);
}

describe('renderCcd header', () => {
  const xml = render();
  const doc = documentOf(xml);
  const patient = child(doc, 'recordTarget', 'patientRole', 'patient');

  it('declares the US Realm Header and CCD templates, with R1.1-compatible ids', () => {
    const ids = childrenNamed(doc, 'templateId').map((t) => `${attr(t, 'root')}:${attr(t, 'extension') ?? ''}`);
    expect(ids).toEqual([
      '2.16.840.1.113883.10.20.22.1.1:2015-08-01',
      '2.16.840.1.113883.10.20.22.1.1:',
      '2.16.840.1.113883.10.20.22.1.2:2015-08-01',
      '2.16.840.1.113883.10.20.22.1.2:',
    ]);
    expect(attr(child(doc, 'code'), 'code')).toBe('34133-9');
    expect(attr(child(doc, 'id'), 'root')).toBe('6F1C7A55-7D0E-4A4E-9A55-1B5D4C1C0ABC');
    expect(attr(child(doc, 'effectiveTime'), 'value')).toBe('20261121120000+0000');
  });

  it('describes the patient: escaped name, gender, birth time, OMB race and ethnicity, language, address, telecom', () => {
    const name = child(patient, 'name');
    expect(childrenNamed(name, 'given').map(textContent)).toEqual(['Mary', 'Ann']);
    expect(textContent(child(name, 'family'))).toBe("O'Brien & Sons");
    expect(xml).toContain('<family>O&apos;Brien &amp; Sons</family>');
    expect(attr(child(patient, 'administrativeGenderCode'), 'code')).toBe('F');
    expect(attr(child(patient, 'birthTime'), 'value')).toBe('19840314');
    expect(attr(child(patient, 'raceCode'), 'code')).toBe('2106-3');
    expect(childrenNamed(patient, 'sdtc:raceCode').map((n) => attr(n, 'code'))).toEqual(['2028-9']);
    expect(attr(child(patient, 'ethnicGroupCode'), 'code')).toBe('2186-5');
    expect(attr(child(patient, 'languageCommunication', 'languageCode'), 'code')).toBe('en-US');
    expect(attr(child(patient, 'languageCommunication', 'preferenceInd'), 'value')).toBe('true');
    const role = child(doc, 'recordTarget', 'patientRole');
    expect(childrenNamed(role, 'telecom').map((t) => attr(t, 'value'))).toEqual(['tel:(206)555-0142', 'mailto:mary@example.com']);
    expect(childrenNamed(child(role, 'addr'), 'streetAddressLine').map(textContent)).toEqual(['12 Elm St', 'Apt 3']);
  });

  it('names the custodian and, with no author given, the software on its behalf', () => {
    expect(textContent(child(doc, 'custodian', 'assignedCustodian', 'representedCustodianOrganization', 'name'))).toBe('Lakeside Clinic');
    expect(textContent(child(doc, 'author', 'assignedAuthor', 'assignedAuthoringDevice', 'softwareName'))).toBe(
      'Chartkeeper C-CDA renderer',
    );
  });

  it('puts the care team (general practitioner, encounter participants) in serviceEvent', () => {
    const event = child(doc, 'documentationOf', 'serviceEvent');
    const performers = childrenNamed(event, 'performer');
    expect(performers).toHaveLength(1);
    const ids = childrenNamed(child(performers[0], 'assignedEntity'), 'id').map((i) => `${attr(i, 'root')}|${attr(i, 'extension')}`);
    expect(ids[1]).toBe('2.16.840.1.113883.4.6|1234567893');
  });

  it('writes a person author when one is given', () => {
    const withAuthor = renderCcd({
      patient: TEST_PATIENT,
      resources: TEST_RESOURCES,
      custodian: TEST_ORG,
      author: TEST_DOCTOR,
      documentId: 'd',
      now: NOW,
    });
    const person = child(documentOf(withAuthor), 'author', 'assignedAuthor', 'assignedPerson', 'name');
    expect(textContent(child(person, 'family'))).toBe('Lee');
  });
});

describe('renderCcd sections', () => {
  const xml = render();
  const sections = sectionsOf(xml);

  it('writes every USCDI section in order (Notes and Reason for Referral only when present)', () => {
    const expected = SECTION_DEFINITIONS.filter((d) => d.whenEmpty !== 'omit').map((d) => d.loinc.code);
    expect([...sections.keys()]).toEqual(expected);
  });

  it('gives every narrative reference a target and keeps IDs unique', () => {
    const ids: string[] = [];
    const refs: string[] = [];
    walk(documentOf(xml), (n) => {
      const id = attr(n, 'ID');
      if (id) ids.push(id);
      if (nodeName(n) === 'reference' && attr(n, 'value')?.startsWith('#')) refs.push((attr(n, 'value') as string).slice(1));
    });
    expect(new Set(ids).size).toBe(ids.length);
    const missing = refs.filter((r) => !ids.includes(r));
    expect(missing).toEqual([]);
    expect(refs.length).toBeGreaterThan(20);
  });

  it('codes the allergy: concern act, drug allergy, RxNorm substance, reaction and severity', () => {
    const s = sections.get('48765-2') as XmlNode;
    const act = child(s, 'entry', 'act');
    expect(attr(child(act, 'statusCode'), 'code')).toBe('active');
    const obs = child(act, 'entryRelationship', 'observation');
    expect(attr(child(obs, 'value'), 'code')).toBe('416098002');
    const substance = child(obs, 'participant', 'participantRole', 'playingEntity', 'code');
    expect([attr(substance, 'code'), attr(substance, 'codeSystem')]).toEqual(['7980', '2.16.840.1.113883.6.88']);
    expect(attr(child(substance, 'originalText', 'reference'), 'value')).toBe('#allergies-1-name');
    const reaction = childrenNamed(obs, 'entryRelationship').find((e) => attr(e, 'typeCode') === 'MFST');
    expect(attr(child(reaction, 'observation', 'value'), 'code')).toBe('247472004');
    const severity = child(reaction, 'observation', 'entryRelationship', 'observation', 'value');
    expect(attr(severity, 'code')).toBe('6736007');
    expect(attr(child(obs, 'effectiveTime', 'low'), 'value')).toBe('200106');
  });

  it('records who ordered or recorded an entry (Author Participation): a practitioner or an organization', () => {
    const sa = child(sections.get('10160-0'), 'entry', 'substanceAdministration');
    const author = child(sa, 'author');
    expect(attr(child(author, 'templateId'), 'root')).toBe('2.16.840.1.113883.10.20.22.4.119');
    expect(attr(child(author, 'time'), 'value')).toBe('20190501');
    expect(textContent(child(author, 'assignedAuthor', 'assignedPerson', 'name', 'family'))).toBe('Lee');
    const allergyObs = child(sections.get('48765-2'), 'entry', 'act', 'entryRelationship', 'observation');
    expect(textContent(child(allergyObs, 'author', 'assignedAuthor', 'representedOrganization', 'name'))).toBe('Lakeside Clinic');
  });

  it('keeps the time zone and precision of clinical times', () => {
    const results = sections.get('30954-2') as XmlNode;
    const obs = child(results, 'entry', 'organizer', 'component', 'observation');
    expect(attr(child(obs, 'effectiveTime'), 'value')).toBe('20240315083000-0700');
    expect([attr(child(obs, 'value'), 'value'), attr(child(obs, 'value'), 'unit')]).toEqual(['5.9', '%']);
    expect(attr(child(obs, 'interpretationCode'), 'code')).toBe('H');
    const cells = childrenNamed(child(results, 'text', 'table', 'tbody', 'tr'), 'td').map(textContent);
    expect(cells).toEqual([
      'Hemoglobin A1c/Hemoglobin.total in Blood',
      '5.9 %',
      '4 % - 5.6 %',
      'Hemoglobin A1c panel',
      '2024-03-15 08:30:00 -07:00',
    ]);
  });

  it('splits a blood pressure panel into systolic and diastolic vital sign observations', () => {
    const vitals = sections.get('8716-3') as XmlNode;
    const organizer = child(vitals, 'entry', 'organizer');
    const codes = childrenNamed(organizer, 'component').map((c) => attr(child(c, 'observation', 'code'), 'code'));
    expect(codes).toEqual(['8480-6', '8462-4']);
    expect(attr(child(organizer, 'effectiveTime'), 'value')).toBe('20240315082000-0700');
  });

  it('puts problems and health concerns in their own sections, with SNOMED primary and ICD-10 translation', () => {
    const problems = sections.get('11450-4') as XmlNode;
    const values = childrenNamed(problems, 'entry').map((e) => attr(child(e, 'act', 'entryRelationship', 'observation', 'value'), 'code'));
    expect(values).toEqual(['43878008', '38341003']);
    const htnValue = child(childrenNamed(problems, 'entry')[1], 'act', 'entryRelationship', 'observation', 'value');
    expect(attr(child(htnValue, 'translation'), 'code')).toBe('I10');
    const concerns = sections.get('75310-3') as XmlNode;
    expect(attr(child(concerns, 'entry', 'act', 'entryRelationship', 'observation', 'value'), 'code')).toBe('161891005');
  });

  it('writes smoking status and sex assigned at birth in social history', () => {
    const social = sections.get('29762-2') as XmlNode;
    const templates = childrenNamed(social, 'entry').map((e) => attr(child(e, 'observation', 'templateId'), 'root'));
    expect(templates).toEqual(['2.16.840.1.113883.10.20.22.4.200', '2.16.840.1.113883.10.20.22.4.78']);
  });
});

describe('renderCcd with a period', () => {
  it('leaves out what lies outside and keeps what is active during it', () => {
    const xml = render({ start: '2024-03-01', end: '2024-03-31' });
    const sections = sectionsOf(xml);
    const problems = childrenNamed(sections.get('11450-4'), 'entry').map((e) =>
      attr(child(e, 'act', 'entryRelationship', 'observation', 'value'), 'code'),
    );
    expect(problems).toEqual(['38341003']);
    expect(attr(sections.get('11369-6'), 'nullFlavor')).toBe('NI');
    expect(childrenNamed(sections.get('48765-2'), 'entry')).toHaveLength(1);
    expect(textContent(child(documentOf(xml), 'title'))).toBe('Continuity of Care Document for 2024-03-01 to 2024-03-31');
    const event = child(documentOf(xml), 'documentationOf', 'serviceEvent', 'effectiveTime');
    expect([attr(child(event, 'low'), 'value'), attr(child(event, 'high'), 'value')]).toEqual(['20240301', '20240331']);
  });
});

describe('renderCcd with no data', () => {
  const xml = render(undefined, [], { resourceType: 'Patient', id: 'nobody' });
  const sections = sectionsOf(xml);

  it('says so the way C-CDA requires: nullFlavor NI on sections whose entries are required', () => {
    for (const code of [
      '48765-2',
      '10160-0',
      '11450-4',
      '30954-2',
      '8716-3',
      '47519-4',
      '11369-6',
      '46240-8',
      '61146-7',
      '75310-3',
      '48768-6',
    ]) {
      expect([code, attr(sections.get(code), 'nullFlavor')]).toEqual([code, 'NI']);
      expect(childrenNamed(sections.get(code), 'entry')).toHaveLength(0);
    }
    expect(attr(sections.get('29762-2'), 'nullFlavor')).toBeUndefined();
    expect(textContent(child(sections.get('48765-2'), 'text', 'paragraph'))).toBe(
      'No information about allergies or intolerances is recorded for this period.',
    );
  });

  it('uses nullFlavors for unknown demographics', () => {
    const patient = child(documentOf(xml), 'recordTarget', 'patientRole', 'patient');
    expect(attr(child(patient, 'name'), 'nullFlavor')).toBe('UNK');
    expect(attr(child(patient, 'birthTime'), 'nullFlavor')).toBe('UNK');
    expect(attr(child(patient, 'raceCode'), 'nullFlavor')).toBe('UNK');
  });
});

describe('no known allergies', () => {
  it('is a negated allergy observation with no substance', () => {
    const nka: AllergyIntolerance = {
      resourceType: 'AllergyIntolerance',
      id: 'nka',
      patient: { reference: 'Patient/p1' },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '716186003', display: 'No known allergy' }] },
      recordedDate: '2024-03-15',
    };
    const s = sectionsOf(render(undefined, [nka])).get('48765-2') as XmlNode;
    const obs = child(s, 'entry', 'act', 'entryRelationship', 'observation');
    expect(attr(obs, 'negationInd')).toBe('true');
    expect(attr(child(obs, 'value'), 'code')).toBe('419199007');
    expect(attr(child(obs, 'participant', 'participantRole', 'playingEntity', 'code'), 'nullFlavor')).toBe('NA');
  });
});

describe('a record full of gaps', () => {
  const xml = render(undefined, SPARSE_RESOURCES, SPARSE_PATIENT);
  const doc = documentOf(xml);
  const sections = sectionsOf(xml);

  it('splits a text-only patient name into fielded parts', () => {
    const name = child(doc, 'recordTarget', 'patientRole', 'patient', 'name');
    expect([childrenNamed(name, 'given').map(textContent), textContent(child(name, 'family'))]).toEqual([['Pat'], 'Sparse']);
  });

  it('keeps the deceased time and an asked-but-unknown race', () => {
    const patient = child(doc, 'recordTarget', 'patientRole', 'patient');
    expect(attr(child(patient, 'sdtc:deceasedTime'), 'value')).toBe('20250203040506-0500');
    expect(attr(child(patient, 'raceCode'), 'nullFlavor')).toBe('ASKU');
  });

  it('resolves a contained Medication and converts odd units to UCUM annotations', () => {
    const sa = child(sections.get('10160-0'), 'entry', 'substanceAdministration');
    expect(attr(child(sa, 'consumable', 'manufacturedProduct', 'manufacturedMaterial', 'code'), 'code')).toBe('197361');
    expect([attr(child(sa, 'doseQuantity'), 'value'), attr(child(sa, 'doseQuantity'), 'unit')]).toEqual(['0.00000125', '{puffs}']);
  });

  it('negates an immunization that was not given', () => {
    const sa = child(sections.get('11369-6'), 'entry', 'substanceAdministration');
    expect(attr(sa, 'negationInd')).toBe('true');
    expect(attr(child(sa, 'effectiveTime'), 'nullFlavor')).toBe('UNK');
  });

  it('writes the UDI of a device and the narrative of a referral', () => {
    const participantRole = child(sections.get('46264-8'), 'entry', 'supply', 'participant', 'participantRole');
    expect([attr(child(participantRole, 'id'), 'root'), attr(child(participantRole, 'id'), 'extension')]).toEqual([
      '2.16.840.1.113883.3.3719',
      '(01)09504000059118(17)141120(10)7654321D(21)10987654d321',
    ]);
    const referral = sections.get('42349-1') as XmlNode;
    expect(textContent(child(referral, 'text', 'table', 'tbody', 'tr', 'td'))).toBe('Knee pain');
    expect(childrenNamed(referral, 'entry')).toHaveLength(0);
  });

  it('decodes a plain-text note into the narrative', () => {
    expect(xml).toContain('<td>Seen today. All &lt;good&gt;.</td>');
  });
});

describe('damaged records', () => {
  it('never make the renderer throw or write XML that is not well-formed, and every narrative reference resolves', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const record = [...TEST_RESOURCES, ...SPARSE_RESOURCES];
      const [patient] = mutateRecord([seed % 2 ? TEST_PATIENT : SPARSE_PATIENT], seed);
      const xml = render(seed % 3 ? undefined : { start: '2024-01-01', end: '2024-12-31' }, mutateRecord(record, seed, 0.3), patient);
      expect([seed, XMLValidator.validate(xml)]).toEqual([seed, true]);
      const ids = new Set([...xml.matchAll(/ ID="([^"]+)"/g)].map((m) => m[1]));
      const dangling = [...xml.matchAll(/<reference value="#([^"]+)"/g)].map((m) => m[1]).filter((r) => !ids.has(r));
      expect([seed, dangling]).toEqual([seed, []]);
    }
  });
});
