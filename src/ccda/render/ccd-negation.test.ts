/**
 * What the record denies, the document denies: refuted problems and allergies, drugs not taken, "no known"
 * statements and entries that name nothing are rendered with the meaning ccda-templates/README.md gives them
 * ("What each status says"), in the coded entry and in the narrative row, and read back the same by the import.
 */
import type { AllergyIntolerance, Condition, Immunization, MedicationStatement } from '@medplum/fhirtypes';
import { parseCcda } from '../parse';
import { attr, child, childNodes, childrenNamed, localName, parseXmlTree, textContent, type XmlNode } from '../html/xml-tree';
import { renderCcd } from './render-ccd';
import { TEST_ORG, TEST_PATIENT } from '../../../test/support/ccda/ccd-test-record';
import { NEGATION_RECORD as RECORD } from '../../../test/support/ccda/ccd-negation-record';

const NOW = new Date('2026-11-21T12:00:00Z');
const xml = renderCcd({
  patient: TEST_PATIENT,
  resources: RECORD,
  custodian: TEST_ORG,
  documentId: '6f1c7a55-7d0e-4a4e-9a55-1b5d4c1c0abc',
  now: NOW,
});
const doc = parseXmlTree(xml).find((n) => localName(n) === 'ClinicalDocument') as XmlNode;

function section(loinc: string): XmlNode {
  for (const c of childrenNamed(child(doc, 'component', 'structuredBody'), 'component')) {
    const s = child(c, 'section') as XmlNode;
    if (attr(child(s, 'code'), 'code') === loinc) return s;
  }
  throw new Error(`no section ${loinc}`);
}

/** The narrative rows of a section as cell texts. */
function rows(s: XmlNode): string[][] {
  return childrenNamed(child(s, 'text', 'table', 'tbody'), 'tr').map((tr) => childrenNamed(tr, 'td').map((td) => textContent(td).trim()));
}

function find(node: XmlNode, name: string, out: XmlNode[] = []): XmlNode[] {
  for (const c of childNodes(node)) {
    if (localName(c) === name) out.push(c);
    find(c, name, out);
  }
  return out;
}

describe('export: every stored assertion renders with its meaning', () => {
  it('a refuted problem is a negated Problem Observation whose row says it is denied; entered-in-error is never shown', () => {
    const problems = section('11450-4');
    expect(rows(problems).map((r) => r.slice(0, 2))).toEqual([
      ['Diabetes mellitus type 2', 'No: denied'],
      ['No current problems or disability', 'None known'],
      ['No information', ''],
    ]);
    const observations = find(problems, 'observation').filter((o) =>
      childrenNamed(o, 'templateId').some((t) => attr(t, 'root') === '2.16.840.1.113883.10.20.22.4.4'),
    );
    expect(
      observations.map((o) => [attr(o, 'negationInd'), attr(child(o, 'value'), 'code') ?? attr(child(o, 'value'), 'nullFlavor')]),
    ).toEqual([
      ['true', '44054006'],
      ['true', '55607006'],
      [undefined, 'NI'],
    ]);
    expect(xml).not.toContain('195967001');
  });

  it('a refuted allergy is rendered (negated, with its allergen), not left out', () => {
    const allergies = section('48765-2');
    expect(rows(allergies).map((r) => [r[0], r[1], r[4]])).toEqual([['Clindamycin', 'No drug allergy (denied)', 'No: denied']]);
    const observation = find(allergies, 'observation')[0];
    expect(attr(observation, 'negationInd')).toBe('true');
    expect(attr(child(observation, 'participant', 'participantRole', 'playingEntity', 'code'), 'code')).toBe('81982');
    expect(find(observation, 'entryRelationship')).toEqual([]);
  });

  it('no known medications, a drug not taken and a nameless drug each say so', () => {
    const meds = section('10160-0');
    const table = rows(meds);
    expect(table.map((r) => [r[0], r[2]])).toEqual([
      ['aspirin 81 MG Oral Tablet', 'Not taken'],
      ['No known medications', 'active'],
      ['No information', 'active'],
    ]);
    const activities = find(meds, 'substanceAdministration');
    expect(
      activities.map((a) => [
        attr(a, 'negationInd'),
        attr(find(a, 'manufacturedMaterial')[0] && child(find(a, 'manufacturedMaterial')[0], 'code'), 'code') ??
          attr(child(find(a, 'manufacturedMaterial')[0], 'code'), 'nullFlavor'),
      ]),
    ).toEqual([
      ['true', '243670'],
      ['true', 'NA'],
      [undefined, 'NI'],
    ]);
    expect(xml).not.toContain('Unknown medication');
    expect(xml).not.toContain('Unknown vaccine');
  });

  it('no known immunizations is a negated activity with a nullFlavored vaccine', () => {
    const table = rows(section('11369-6'));
    expect(table.map((r) => [r[0], r[1]])).toEqual([
      ['No information', 'completed'],
      ['No known immunizations', 'None known'],
    ]);
  });

  it('the import reads each back with the same meaning', () => {
    const parsed = parseCcda(xml).bundle.entry.map((e) => e.resource);
    const conditions = parsed.filter((r): r is Condition => r.resourceType === 'Condition');
    expect(conditions.map((c) => [c.code?.coding?.[0]?.code, c.verificationStatus?.coding?.[0]?.code])).toEqual([
      ['44054006', 'refuted'],
      ['160245001', 'confirmed'],
      [undefined, 'confirmed'],
    ]);
    const allergy = parsed.find((r): r is AllergyIntolerance => r.resourceType === 'AllergyIntolerance');
    expect([allergy?.code?.coding?.[0]?.code, allergy?.verificationStatus?.coding?.[0]?.code]).toEqual(['81982', 'refuted']);
    const meds = parsed.filter((r): r is MedicationStatement => r.resourceType === 'MedicationStatement');
    expect(meds.map((m) => [m.medicationCodeableConcept?.coding?.[0]?.code, m.status])).toEqual([
      ['243670', 'not-taken'],
      ['no-known-medications', 'active'],
      [undefined, 'active'],
    ]);
    const shots = parsed.filter((r): r is Immunization => r.resourceType === 'Immunization');
    expect(shots.map((i) => [i.vaccineCode.coding?.[0]?.code, i.status])).toEqual([
      [undefined, 'completed'],
      ['no-known-immunizations', 'not-done'],
    ]);
  });
});
