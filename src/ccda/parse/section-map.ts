import type { CompositionSection } from '@medplum/fhirtypes';
import type { CcdaSectionStats } from './ccda-import-types';
import { codeableConcept } from './cda-datatype-readers';
import { isCommentAct, isNegated, isNullKey, related, statementOf, statementText, valueOf } from './entry-common';
import { mapPlanOfTreatment } from './care-plan-map';
import { mapStatement } from './entry-dispatch';
import type { AnyRef, ImportContext } from './import-context';
import { narrativeToPlainText, narrativeToXhtml } from './narrative';
import { SectionKind, sectionKind } from './section-catalog';
import { XNode, attr, child, children, path, tagOf, templateRoots, textOf } from './xml-node';

interface FoundSection {
  readonly node: XNode;
  readonly stats: CcdaSectionStats;
  readonly kind: SectionKind;
  readonly raw: string;
  readonly composition: CompositionSection;
}

const EMPTY_DIV = '<div xmlns="http://www.w3.org/1999/xhtml">No information</div>';

/**
 * Maps every section of a structuredBody: each becomes a Composition section keeping its
 * narrative; entries of known sections become resources listed in section.entry. Sections are
 * collected (and their narrative indexed) before any entry is mapped, because an entry's
 * originalText may reference narrative anywhere in the document.
 */
export function mapSections(
  body: XNode,
  narratives: readonly string[],
  ctx: ImportContext,
): { sections: CompositionSection[]; stats: CcdaSectionStats[] } {
  const found: FoundSection[] = [];
  const top = collect(body, found, { narratives, next: 0 });
  for (const section of found) ctx.narrative.add(section.raw);
  for (const section of found) mapOne(section, ctx);
  return { sections: top, stats: found.map((s) => s.stats) };
}

/** Section narratives cut out by the reader, consumed in document order. */
interface NarrativeQueue {
  readonly narratives: readonly string[];
  next: number;
}

function collect(holder: XNode, found: FoundSection[], queue: NarrativeQueue): CompositionSection[] {
  const out: CompositionSection[] = [];
  for (const component of children(holder, 'component')) {
    const node = child(component, 'section');
    if (!node) continue;
    const roots = templateRoots(node);
    const codeNode = child(node, 'code');
    const loinc = attr(codeNode, 'code');
    const title = textOf(child(node, 'title'));
    const kind = sectionKind(roots, loinc);
    const raw = child(node, 'text') ? (queue.narratives[queue.next++] ?? '') : '';
    const stats: CcdaSectionStats = {
      index: found.length,
      loinc,
      title,
      templateIds: [...roots],
      kind,
      entries: 0,
      resourcesCreated: 0,
      negated: 0,
      nullFlavored: 0,
      unmapped: 0,
    };
    const composition: CompositionSection = {};
    if (title) composition.title = title;
    const code = codeableConcept(codeNode, { lookupNarrative: () => undefined, warn: () => undefined });
    if (code?.coding) composition.code = code;
    const div = narrativeToXhtml(raw);
    composition.text = div ? { status: 'additional', div } : { status: 'empty', div: EMPTY_DIV };
    found.push({ node, stats, kind, raw, composition });
    const nested = collect(node, found, queue);
    if (nested.length) composition.section = nested;
    out.push(composition);
  }
  return out;
}

function mapOne(section: FoundSection, ctx: ImportContext): void {
  const { node, stats, kind, composition } = section;
  ctx.section = stats;
  ctx.sectionRefs = [];
  ctx.sectionText = narrativeToPlainText(section.raw);
  const entries = children(node, 'entry');
  if (kind === 'narrative-only' && entries.length > 0) {
    ctx.warn(
      `Section ${stats.loinc ?? stats.title ?? stats.index} (${stats.templateIds.join(', ') || 'no templateId'}) is not mapped; its ${entries.length} entries are kept as narrative only`,
    );
  }
  let index = 0;
  let previous: AnyRef[] = [];
  for (const entry of entries) {
    const statement = statementOf(entry);
    index++;
    if (!statement) continue;
    stats.entries++;
    if (entryNegated(statement)) stats.negated++;
    else if (entryNullFlavored(statement, kind, ctx)) stats.nullFlavored++;
    if (kind === 'narrative-only') {
      stats.unmapped++;
      continue;
    }
    ctx.entryPosition = `${stats.loinc ?? `section${stats.index}`}/${index}`;
    // A comment act standing as an entry of its own is about the entry before it: a note there, not a finding.
    if (isCommentAct(statement) && previous.length && noteOnFirst(previous, statementText(statement, ctx), ctx)) continue;
    const before = stats.resourcesCreated;
    const firstRef = ctx.sectionRefs.length;
    try {
      mapStatement(statement, ctx, kind);
    } catch (err) {
      ctx.warn(`Entry ${index} could not be mapped: ${(err as Error).message}`);
    }
    if (stats.resourcesCreated === before) stats.unmapped++;
    previous = ctx.sectionRefs.slice(firstRef);
  }
  if (kind === 'plan-of-treatment' && ctx.sectionRefs.length) {
    ctx.entryPosition = `${stats.loinc ?? `section${stats.index}`}/careplan`;
    mapPlanOfTreatment([...ctx.sectionRefs], stats.title, ctx);
  }
  if (ctx.sectionRefs.length) composition.entry = ctx.sectionRefs;
  if (attr(node, 'nullFlavor') && !composition.entry) {
    composition.emptyReason = {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/list-empty-reason', code: 'unavailable', display: 'Unavailable' }],
    };
  }
  ctx.section = undefined;
  ctx.sectionRefs = [];
  ctx.sectionText = undefined;
}

const KEY_OBSERVATIONS = new Set([
  '2.16.840.1.113883.10.20.22.4.7',
  '2.16.840.1.113883.10.20.22.4.4',
  '2.16.840.1.113883.10.20.1.18',
  '2.16.840.1.113883.10.20.1.28',
]);

/** Negated entry: the statement, or the allergy/problem observation a concern act wraps, says negationInd. */
function entryNegated(statement: XNode): boolean {
  if (isNegated(statement)) return true;
  const inner = related(statement).filter((s) => templateRoots(s).some((r) => KEY_OBSERVATIONS.has(r)));
  return inner.length > 0 && inner.every(isNegated);
}

/** NullFlavored entry: the statement itself, or the key code the section is about, is nullFlavored. */
function entryNullFlavored(statement: XNode, kind: SectionKind, ctx: ImportContext): boolean {
  if (attr(statement, 'nullFlavor')) return true;
  const inner = related(statement).filter((s) => templateRoots(s).some((r) => KEY_OBSERVATIONS.has(r)));
  const target = inner[0] ?? statement;
  switch (kind) {
    case 'allergies':
      return isNullKey(path(target, 'participant', 'participantRole', 'playingEntity', 'code'), ctx);
    case 'problems':
      return isNullKey(valueOf(target), ctx);
    case 'medications':
    case 'immunizations':
      if (tagOf(statement) !== 'substanceAdministration') return false;
      return isNullKey(
        path(statement, 'consumable', 'manufacturedProduct', 'manufacturedMaterial', 'code') ??
          path(statement, 'consumable', 'manufacturedProduct', 'manufacturedLabeledDrug', 'code'),
        ctx,
      );
    default:
      return false;
  }
}

/** Types whose resources carry `note` (Annotation). */
const NOTED = new Set([
  'Condition',
  'AllergyIntolerance',
  'Observation',
  'Procedure',
  'Immunization',
  'MedicationStatement',
  'MedicationRequest',
  'Goal',
  'ServiceRequest',
  'CarePlan',
  'FamilyMemberHistory',
  'CommunicationRequest',
]);

/** Adds the text as a note to the first of the resources that can hold one; false when none can (or no text). */
function noteOnFirst(refs: readonly AnyRef[], text: string | undefined, ctx: ImportContext): boolean {
  if (!text) return false;
  for (const ref of refs) {
    const found = ctx.resources.find((r) => r.fullUrl === ref.reference)?.resource as
      { resourceType: string; note?: { text: string }[] } | undefined;
    if (found && NOTED.has(found.resourceType)) {
      found.note = [...(found.note ?? []), { text }];
      return true;
    }
  }
  return false;
}
