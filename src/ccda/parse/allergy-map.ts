import type { AllergyIntolerance, CodeableConcept } from '@medplum/fhirtypes';
import { codeableConcept, effective, identifiers } from './cda-datatype-readers';
import {
  SNOMED,
  authorTime,
  codingIn,
  compact,
  concept,
  isNegated,
  isNullKey,
  notes,
  readsAsNoneKnown,
  saysNone,
  related,
  relatedWithTemplate,
  statementText,
  statusOf,
  valueOf,
} from './entry-common';
import type { ImportContext } from './import-context';
import { mapAuthors, PARTY_TARGETS } from './participant-map';
import { XNode, attr, child, path, templateRoots } from './xml-node';
import type { AnyRef } from './import-context';

const ALLERGY_OBSERVATION = new Set(['2.16.840.1.113883.10.20.22.4.7', '2.16.840.1.113883.10.20.1.18']);
const REACTION = new Set(['2.16.840.1.113883.10.20.22.4.9', '2.16.840.1.113883.10.20.1.54']);
const SEVERITY = new Set(['2.16.840.1.113883.10.20.22.4.8', '2.16.840.1.113883.10.20.1.55']);
const STATUS = new Set(['2.16.840.1.113883.10.20.22.4.28', '2.16.840.1.113883.10.20.1.39']);
const CRITICALITY = new Set(['2.16.840.1.113883.10.20.22.4.145']);

const CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';
const VERIFICATION = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification';

/**
 * The allergy/intolerance type (observation value, SNOMED) decides category and type; nothing
 * is hard-coded to "medication". Codes from the C-CDA Allergy and Intolerance Type value set.
 */
const TYPE_CODES: Record<string, { category?: AllergyIntolerance['category']; type?: AllergyIntolerance['type'] }> = {
  '420134006': {}, // propensity to adverse reactions
  '418038007': {}, // propensity to adverse reactions to substance
  '419199007': { type: 'allergy' }, // allergy to substance
  '416098002': { category: ['medication'], type: 'allergy' },
  '419511003': { category: ['medication'] },
  '59037007': { category: ['medication'], type: 'intolerance' },
  '414285001': { category: ['food'], type: 'allergy' },
  '418471000': { category: ['food'] },
  '235719002': { category: ['food'], type: 'intolerance' },
  '426232007': { category: ['environment'], type: 'allergy' },
  '419841000': { category: ['environment'] }, // propensity to adverse reactions to environment (not in all releases)
  '418545008': { category: ['biologic'] },
};

/** SNOMED "no known ..." situations, chosen by the negated observation's type. */
function noKnownAllergy(category: AllergyIntolerance['category']): CodeableConcept {
  if (category?.[0] === 'medication') return concept(SNOMED, '409137002', 'No known drug allergy');
  if (category?.[0] === 'food') return concept(SNOMED, '429625007', 'No known food allergy');
  if (category?.[0] === 'environment') return concept(SNOMED, '428607008', 'No known environmental allergy');
  return concept(SNOMED, '716186003', 'No known allergy');
}

/** Allergy concern act (or a bare allergy observation): one AllergyIntolerance per allergy observation. */
export function mapAllergyEntry(node: XNode, ctx: ImportContext): AnyRef[] {
  const isObservation = templateRoots(node).some((r) => ALLERGY_OBSERVATION.has(r)) || attr(node, 'classCode') === 'OBS';
  const observations = isObservation ? [node] : relatedWithTemplate(node, ALLERGY_OBSERVATION);
  const candidates = observations.length > 0 ? observations : related(node).filter((s) => valueOf(s) || child(s, 'participant'));
  if (candidates.length === 0) {
    return [mapAllergyObservation(node, node, ctx)];
  }
  return candidates.map((obs) => mapAllergyObservation(obs, isObservation ? undefined : node, ctx));
}

function allergen(obs: XNode): XNode | undefined {
  return path(obs, 'participant', 'participantRole', 'playingEntity', 'code');
}

function mapAllergyObservation(obs: XNode, concern: XNode | undefined, ctx: ImportContext): AnyRef {
  const typeCc = codeableConcept(valueOf(obs), ctx);
  const typeCode = codingIn(typeCc, SNOMED)?.code ?? '';
  const typed = TYPE_CODES[typeCode] ?? {};
  const allergenNode = allergen(obs);
  let code = codeableConcept(allergenNode, ctx);
  const category = typed.category ?? categoryFromAllergen(code);
  const negated = isNegated(obs) || (concern !== undefined && isNegated(concern));
  const allergenMissing = isNullKey(allergenNode, ctx);
  let verification = 'confirmed';
  if (negated) {
    if (allergenMissing) code = noKnownAllergy(category);
    else verification = 'refuted';
  } else if (allergenMissing) {
    // A vendor "No Known Allergies" row with a nullFlavored allergen and no negationInd.
    const text = statementText(obs, ctx) ?? (concern ? statementText(concern, ctx) : undefined) ?? typeCc?.text;
    if (readsAsNoneKnown(code?.text) || saysNone(obs, ctx, text)) {
      code = noKnownAllergy(category);
      ctx.warn('An allergy with no allergen whose text says "no known" was read as No known allergy');
    } else if (!code && typeCc?.coding && !TYPE_CODES[typeCode]) {
      code = typeCc; // some R1.1 vendors put the allergen in the value
    }
  }
  const allergy: AllergyIntolerance = {
    resourceType: 'AllergyIntolerance',
    identifier: ctx.claimIdentifiers('AllergyIntolerance', identifiers(obs)),
    // ait-1 wants a clinical status unless entered-in-error: a "no known" statement is active, a refuted allergen inactive.
    clinicalStatus: {
      coding: [{ system: CLINICAL, code: negated ? (allergenMissing ? 'active' : 'inactive') : clinicalStatus(obs, concern, ctx) }],
    },
    verificationStatus: { coding: [{ system: VERIFICATION, code: verification }] },
    type: negated && allergenMissing ? undefined : typed.type,
    category: negated && allergenMissing ? undefined : category,
    criticality: criticality(obs, ctx),
    code: code ?? { text: 'Unknown allergen' },
    patient: ctx.patientReference,
    onsetDateTime: undefined,
    recordedDate: authorTime(obs, ctx) ?? (concern ? authorTime(concern, ctx) : undefined),
    recorder: mapAuthors(obs, ctx, PARTY_TARGETS.person)[0],
    note: notes(obs, ctx),
    reaction: negated ? undefined : reactions(obs, ctx),
  };
  if (!code) ctx.warn('An allergy without an allergen code was kept with code.text "Unknown allergen"');
  const onset = effective(child(obs, 'effectiveTime'), ctx);
  if (onset.period?.start) allergy.onsetDateTime = onset.period.start;
  else if (onset.dateTime) allergy.onsetDateTime = onset.dateTime;
  if (onset.period?.end && allergy.clinicalStatus) allergy.lastOccurrence = onset.period.end;
  return ctx.add(compact(allergy));
}

function categoryFromAllergen(code: CodeableConcept | undefined): AllergyIntolerance['category'] {
  const systems = new Set(code?.coding?.map((c) => c.system));
  if (systems.has('http://www.nlm.nih.gov/research/umls/rxnorm') || systems.has('http://hl7.org/fhir/sid/ndc')) return ['medication'];
  return undefined;
}

function clinicalStatus(obs: XNode, concern: XNode | undefined, ctx: ImportContext): string {
  for (const status of relatedWithTemplate(obs, STATUS)) {
    const code = attr(valueOf(status), 'code');
    if (code === '73425007') return 'inactive';
    if (code === '413322009') return 'resolved';
    if (code === '55561003') return 'active';
  }
  const high = child(child(obs, 'effectiveTime'), 'high');
  if (high && attr(high, 'value')) return 'resolved';
  const concernStatus = concern ? statusOf(concern) : undefined;
  if (concernStatus === 'completed' || concernStatus === 'aborted') return 'inactive';
  void ctx;
  return 'active';
}

function criticality(obs: XNode, ctx: ImportContext): AllergyIntolerance['criticality'] {
  for (const c of relatedWithTemplate(obs, CRITICALITY)) {
    const code = attr(valueOf(c), 'code');
    if (code === 'CRITL') return 'low';
    if (code === 'CRITH') return 'high';
    if (code === 'CRITU') return 'unable-to-assess';
  }
  void ctx;
  return undefined;
}

const SEVERITY_CODES: Record<string, 'mild' | 'moderate' | 'severe'> = {
  '255604002': 'mild',
  '6736007': 'moderate',
  '24484000': 'severe',
  '371923003': 'mild',
  '371924009': 'moderate',
  '442452003': 'severe',
};

function severityOf(node: XNode): 'mild' | 'moderate' | 'severe' | undefined {
  for (const s of relatedWithTemplate(node, SEVERITY)) {
    const sev = SEVERITY_CODES[attr(valueOf(s), 'code') ?? ''];
    if (sev) return sev;
  }
  return undefined;
}

function reactions(obs: XNode, ctx: ImportContext): AllergyIntolerance['reaction'] {
  const out: NonNullable<AllergyIntolerance['reaction']> = [];
  const overall = severityOf(obs);
  for (const reaction of relatedWithTemplate(obs, REACTION)) {
    if (isNegated(reaction)) continue;
    const manifestation = codeableConcept(valueOf(reaction), ctx);
    if (!manifestation?.coding && !manifestation?.text) continue;
    const severity = severityOf(reaction) ?? overall;
    const onset = effective(child(reaction, 'effectiveTime'), ctx);
    out.push(compact({ manifestation: [manifestation], severity, onset: onset.period?.start ?? onset.dateTime }));
  }
  return out.length ? out : undefined;
}
