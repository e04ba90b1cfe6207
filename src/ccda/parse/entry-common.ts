import type { Annotation, CodeableConcept, Coding } from '@medplum/fhirtypes';
import { codeableConcept, dateTime, effective, quantity, range, ratio, referencedText, isNullCode } from './cda-datatype-readers';
import type { ImportContext } from './import-context';
import { XNode, attr, child, children, elementKids, tagOf, templateRoots } from './xml-node';
import type { AnyRef } from './import-context';

export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
export const IPS_ABSENT = 'http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips';

/** The clinical statement elements an entry / entryRelationship / component can hold. */
const STATEMENTS = new Set([
  'act',
  'observation',
  'substanceAdministration',
  'procedure',
  'encounter',
  'organizer',
  'supply',
  'regionOfInterest',
  'observationMedia',
]);

/** The clinical statement inside an entry, entryRelationship or component element. */
export function statementOf(holder: XNode): XNode | undefined {
  for (const kid of elementKids(holder)) {
    if (STATEMENTS.has(tagOf(kid))) return kid;
  }
  return undefined;
}

/** The statements nested in entryRelationships (optionally only of one typeCode). */
export function related(node: XNode, typeCode?: string): XNode[] {
  const out: XNode[] = [];
  for (const rel of children(node, 'entryRelationship')) {
    if (typeCode && attr(rel, 'typeCode') !== typeCode) continue;
    const statement = statementOf(rel);
    if (statement) out.push(statement);
  }
  return out;
}

/** Statements nested in entryRelationships that declare one of the templates. */
export function relatedWithTemplate(node: XNode, roots: ReadonlySet<string>): XNode[] {
  return related(node).filter((s) => templateRoots(s).some((r) => roots.has(r)));
}

/** Whether a statement is explicitly negated (negationInd="true"). */
export function isNegated(node: XNode | undefined): boolean {
  return attr(node, 'negationInd') === 'true';
}

/** The observation's value element (first `value`). */
export function valueOf(node: XNode): XNode | undefined {
  return child(node, 'value');
}

/** A statement's own narrative text: `text` (own text or referenced narrative). */
export function statementText(node: XNode, ctx: ImportContext): string | undefined {
  return referencedText(child(node, 'text'), ctx);
}

/** Comment Activity (R2 and R1) template roots; LOINC 48767-8 "Annotation comment" marks the untemplated ones. */
const COMMENT_ACT = new Set(['2.16.840.1.113883.10.20.22.4.64', '2.16.840.1.113883.10.20.1.40']);

/** Whether a statement is a comment act (a note about its neighbour or its holder, not a finding). */
export function isCommentAct(node: XNode): boolean {
  if (tagOf(node) !== 'act') return false;
  return templateRoots(node).some((r) => COMMENT_ACT.has(r)) || attr(child(node, 'code'), 'code') === '48767-8';
}

/** Whether a statement only points at another act: an encounter or act holding nothing but ids (and templateIds). */
export function isReferenceOnly(node: XNode): boolean {
  const tag = tagOf(node);
  if (tag !== 'encounter' && tag !== 'act') return false;
  const kids = elementKids(node);
  return kids.some((k) => tagOf(k) === 'id') && kids.every((k) => tagOf(k) === 'id' || tagOf(k) === 'templateId');
}

/** Notes for resources that have `note`: the statement's own text, then its comment acts. */
export function notes(node: XNode, ctx: ImportContext): Annotation[] | undefined {
  const out: Annotation[] = [];
  const text = statementText(node, ctx);
  if (text) out.push({ text });
  for (const comment of related(node).filter(isCommentAct)) {
    const commentText = statementText(comment, ctx);
    if (commentText && commentText !== text) out.push({ text: commentText });
  }
  return out.length ? out : undefined;
}

/** The status code of a statement (`statusCode/@code`). */
export function statusOf(node: XNode): string | undefined {
  return attr(child(node, 'statusCode'), 'code');
}

/** A single coding as a CodeableConcept. */
export function concept(system: string, code: string, display: string): CodeableConcept {
  return { coding: [{ system, code, display }], text: display };
}

/** The first coding of a CodeableConcept in a system. */
export function codingIn(cc: CodeableConcept | undefined, system: string): Coding | undefined {
  return cc?.coding?.find((c) => c.system === system);
}

/** Whether the narrative text of a statement reads like an explicit "none" (NKA, no known ..., a bare "None"). */
export function readsAsNoneKnown(text: string | undefined): boolean {
  if (!text) return false;
  return (
    /\b(no\s+known|nkda|nka|none\s+known|none\s+(reported|recorded|documented|on\s+file)|no\s+(current\s+)?(active\s+)?(allerg|problem|medication|immuni|vaccin))/i.test(
      text,
    ) || /^\s*(none|nil|n\/a)\s*[.!]?\s*$/i.test(text)
  );
}

/** The longest section narrative still read as one statement ("None", "No known medications."). */
const SHORT_NARRATIVE = 80;

/**
 * Whether an entry with no usable code says "none": its own text (or the given text), else, when the entry has
 * no text of its own, a section narrative short enough to be one statement.
 */
export function saysNone(node: XNode, ctx: ImportContext, fallback?: string): boolean {
  const own = statementText(node, ctx) ?? fallback;
  if (own !== undefined) return readsAsNoneKnown(own);
  const section = ctx.sectionText;
  return section !== undefined && section.length <= SHORT_NARRATIVE && readsAsNoneKnown(section);
}

/** Whether the key code of a statement carries no usable code (nullFlavor, no translation, no text). */
export function isNullKey(node: XNode | undefined, ctx: ImportContext): boolean {
  if (!node) return true;
  return isNullCode(node) && !codeableConcept(node, ctx)?.text;
}

/** The author time of a statement (first author). */
export function authorTime(node: XNode, ctx: ImportContext): string | undefined {
  return dateTime(attr(child(child(node, 'author'), 'time'), 'value'), ctx);
}

/** The value[x] of an observation, by xsi:type. */
export function observationValue(node: XNode, ctx: ImportContext): Record<string, unknown> {
  const value = valueOf(node);
  if (!value) return {};
  const type = (attr(value, 'xsi:type') ?? '').replace(/^.*:/, '');
  switch (type) {
    case 'PQ': {
      const q = quantity(value);
      if (q) return { valueQuantity: q };
      break;
    }
    case 'IVL_PQ': {
      const r = range(value);
      if (r) return { valueRange: r };
      break;
    }
    case 'INT': {
      const n = Number(attr(value, 'value'));
      if (Number.isInteger(n)) return { valueInteger: n };
      break;
    }
    case 'REAL': {
      const n = Number(attr(value, 'value'));
      if (Number.isFinite(n)) return { valueQuantity: { value: n } };
      break;
    }
    case 'BL': {
      const b = attr(value, 'value');
      if (b === 'true' || b === 'false') return { valueBoolean: b === 'true' };
      break;
    }
    case 'TS': {
      const t = dateTime(attr(value, 'value'), ctx);
      if (t) return { valueDateTime: t };
      break;
    }
    case 'IVL_TS': {
      const e = effective(value, ctx);
      if (e.period) return { valuePeriod: e.period };
      if (e.dateTime) return { valueDateTime: e.dateTime };
      break;
    }
    case 'RTO':
    case 'RTO_PQ_PQ':
    case 'RTO_INT_INT': {
      const r = ratio(value);
      if (r) return { valueRatio: r };
      break;
    }
    case 'ST':
    case 'ED':
    case 'SC': {
      const text = referencedText(value, ctx);
      if (text) return { valueString: text };
      break;
    }
    default: {
      const cc = codeableConcept(value, ctx);
      if (cc) return { valueCodeableConcept: cc };
      const text = referencedText(value, ctx);
      if (text) return { valueString: text };
    }
  }
  const nullFlavor = attr(value, 'nullFlavor');
  return nullFlavor ? { dataAbsentReason: darConcept(nullFlavor) } : {};
}

const DAR_SYSTEM = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';
const DAR_CODES: Record<string, [string, string]> = {
  ASKU: ['asked-unknown', 'Asked But Unknown'],
  NAV: ['temp-unknown', 'Temporarily Unknown'],
  NASK: ['not-asked', 'Not Asked'],
  MSK: ['masked', 'Masked'],
  NA: ['not-applicable', 'Not Applicable'],
  OTH: ['unsupported', 'Unsupported'],
};

/** Observation.dataAbsentReason for a nullFlavored value. */
export function darConcept(nullFlavor: string): CodeableConcept {
  const [code, display] = DAR_CODES[nullFlavor] ?? ['unknown', 'Unknown'];
  return { coding: [{ system: DAR_SYSTEM, code, display }] };
}

/** Reasons (RSON entryRelationships) as CodeableConcepts. */
export function reasons(node: XNode, ctx: ImportContext): CodeableConcept[] {
  const out: CodeableConcept[] = [];
  for (const reason of related(node, 'RSON')) {
    const cc = codeableConcept(valueOf(reason), ctx) ?? codeableConcept(child(reason, 'code'), ctx);
    if (cc && (cc.coding || cc.text)) out.push(cc);
  }
  return out;
}

/**
 * Drops undefined and empty-array members, so resources serialize without noise. Copies into
 * a fresh object instead of `delete`, which would push V8 objects into slow dictionary mode.
 */
export function compact<T extends object>(resource: T): T {
  const out = {} as Record<string, unknown>;
  for (const key in resource) {
    const v = (resource as Record<string, unknown>)[key];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) out[key] = v;
  }
  return out as T;
}

/** A reference list with no undefined members. */
export function refs(...items: (AnyRef | undefined)[]): AnyRef[] {
  return items.filter((r): r is AnyRef => r !== undefined);
}
