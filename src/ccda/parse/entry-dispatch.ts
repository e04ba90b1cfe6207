import { mapAllergyEntry } from './allergy-map';
import { ConditionCategory, mapConditionEntry } from './condition-map';
import { mapCoverageActivity } from './coverage-map';
import { mapEncounterActivity } from './encounter-map';
import { related, statementOf } from './entry-common';
import type { ImportContext } from './import-context';
import { mapImmunizationActivity, mapMedicationActivity } from './medication-map';
import { mapFamilyHistoryOrganizer, mapNoteActivity } from './note-map';
import {
  ObservationCategory,
  mapObservation,
  mapObservationOrganizer,
  mapResultOrganizer,
  mapVitalSignsOrganizer,
} from './observation-map';
import { mapGoal, mapInstruction } from './plan-map';
import { mapProcedureActivity, mapServiceRequest, mapSupply } from './procedure-map';
import type { SectionKind } from './section-catalog';
import { XNode, attr, children, tagOf, templateRoots } from './xml-node';
import type { AnyRef } from './import-context';

type Mapper = (node: XNode, ctx: ImportContext, kind: SectionKind) => AnyRef[];

const T = '2.16.840.1.113883.10.20.22.4.';
const R1 = '2.16.840.1.113883.10.20.1.';
const PLANNED_MOODS = new Set(['INT', 'RQO', 'PRMS', 'PRP', 'ARQ', 'APT']);

function conditionCategory(kind: SectionKind): ConditionCategory {
  if (kind === 'health-concerns') return 'health-concern';
  if (kind === 'encounters' || kind === 'diagnoses') return 'encounter-diagnosis';
  return 'problem-list-item';
}

function observationCategory(kind: SectionKind): ObservationCategory | undefined {
  switch (kind) {
    case 'results':
      return 'laboratory';
    case 'vital-signs':
      return 'vital-signs';
    case 'social-history':
      return 'social-history';
    case 'functional-status':
    case 'mental-status':
      return 'survey';
    case 'procedures':
      return 'procedure';
    case 'nutrition':
      return 'therapy';
    default:
      return undefined;
  }
}

const allergy: Mapper = (n, ctx) => mapAllergyEntry(n, ctx);
const condition: Mapper = (n, ctx, kind) => mapConditionEntry(n, ctx, conditionCategory(kind));
const diagnosis: Mapper = (n, ctx) => mapConditionEntry(n, ctx, 'encounter-diagnosis');
const healthConcern: Mapper = (n, ctx) => mapConditionEntry(n, ctx, 'health-concern');
const medication: Mapper = (n, ctx, kind) =>
  kind === 'immunizations' ? [mapImmunizationActivity(n, ctx)] : [mapMedicationActivity(n, ctx, kind === 'plan-of-treatment')];
const plannedMedication: Mapper = (n, ctx) => [mapMedicationActivity(n, ctx, true)];
const immunization: Mapper = (n, ctx) => [mapImmunizationActivity(n, ctx)];
const resultOrganizer: Mapper = (n, ctx, kind) => (kind === 'vital-signs' ? mapVitalSignsOrganizer(n, ctx) : mapResultOrganizer(n, ctx));
const vitalsOrganizer: Mapper = (n, ctx) => mapVitalSignsOrganizer(n, ctx);
const observation: Mapper = (n, ctx, kind) => [mapObservation(n, ctx, observationCategory(kind))];
const socialObservation: Mapper = (n, ctx) => [mapObservation(n, ctx, 'social-history')];
const surveyObservation: Mapper = (n, ctx) => [mapObservation(n, ctx, 'survey')];
const panel: Mapper = (n, ctx, kind) => mapObservationOrganizer(n, ctx, observationCategory(kind));
const procedure: Mapper = (n, ctx) => mapProcedureActivity(n, ctx);
const planned: Mapper = (n, ctx) => [mapServiceRequest(n, ctx, 'plan')];
const referral: Mapper = (n, ctx) => [mapServiceRequest(n, ctx, 'order')];
const intervention: Mapper = (n, ctx) =>
  PLANNED_MOODS.has(attr(n, 'moodCode') ?? '') ? [mapServiceRequest(n, ctx, 'plan')] : mapProcedureActivity(n, ctx);
const encounter: Mapper = (n, ctx) => mapEncounterActivity(n, ctx);
const goal: Mapper = (n, ctx) => [mapGoal(n, ctx)];
const instruction: Mapper = (n, ctx) => [mapInstruction(n, ctx)];
const supply: Mapper = (n, ctx) => mapSupply(n, ctx);
const coverage: Mapper = (n, ctx) => mapCoverageActivity(n, ctx);
const note: Mapper = (n, ctx) => [mapNoteActivity(n, ctx)];
const familyHistory: Mapper = (n, ctx) => [mapFamilyHistoryOrganizer(n, ctx)];
/** Wrapper acts (discharge medication, equipment organizer): map what they hold. */
const unwrap: Mapper = (n, ctx, kind) => {
  const inner =
    tagOf(n) === 'organizer'
      ? children(n, 'component')
          .map(statementOf)
          .filter((s): s is XNode => !!s)
      : related(n);
  return inner.flatMap((s) => mapStatement(s, ctx, kind));
};
const skip: Mapper = () => [];

/** Entry templates (root) to mappers; the section kind refines some (R1 acts are shared). */
const BY_TEMPLATE: Record<string, Mapper> = {
  [`${T}30`]: allergy,
  [`${T}7`]: allergy,
  [`${R1}18`]: allergy,
  '2.16.840.1.113883.3.88.11.83.6': allergy,
  [`${T}3`]: condition,
  [`${T}4`]: condition,
  [`${R1}28`]: condition,
  '2.16.840.1.113883.3.88.11.83.7': condition,
  [`${T}68`]: condition,
  [`${T}73`]: condition,
  [`${T}132`]: healthConcern,
  [`${T}136`]: healthConcern,
  [`${T}33`]: diagnosis,
  [`${T}34`]: diagnosis,
  [`${T}65`]: diagnosis,
  [`${T}80`]: diagnosis,
  [`${T}35`]: unwrap,
  [`${T}135`]: unwrap,
  [`${T}16`]: medication,
  [`${R1}24`]: medication,
  '2.16.840.1.113883.3.88.11.83.8': medication,
  [`${T}42`]: plannedMedication,
  [`${T}52`]: immunization,
  '2.16.840.1.113883.3.88.11.83.13': immunization,
  [`${T}120`]: immunization,
  [`${T}1`]: resultOrganizer,
  [`${R1}32`]: resultOrganizer,
  [`${T}26`]: vitalsOrganizer,
  [`${R1}35`]: vitalsOrganizer,
  [`${T}2`]: observation,
  [`${T}27`]: observation,
  [`${R1}31`]: observation,
  [`${T}78`]: socialObservation,
  [`${T}38`]: socialObservation,
  [`${T}85`]: socialObservation,
  [`${T}200`]: socialObservation,
  [`${T}109`]: socialObservation,
  [`${T}111`]: socialObservation,
  [`${T}72`]: socialObservation,
  '2.16.840.1.113883.10.20.15.3.8': socialObservation,
  [`${R1}33`]: socialObservation,
  [`${T}66`]: panel,
  [`${T}75`]: panel,
  [`${T}67`]: surveyObservation,
  [`${T}74`]: surveyObservation,
  [`${T}12`]: procedure,
  [`${T}13`]: procedure,
  [`${T}14`]: procedure,
  [`${R1}29`]: procedure,
  [`${T}39`]: planned,
  [`${T}40`]: planned,
  [`${T}41`]: planned,
  [`${T}43`]: planned,
  [`${T}44`]: planned,
  [`${T}130`]: planned,
  [`${T}140`]: referral,
  [`${T}131`]: intervention,
  [`${T}146`]: intervention,
  [`${T}49`]: encounter,
  [`${R1}21`]: encounter,
  [`${T}121`]: goal,
  [`${T}20`]: instruction,
  [`${R1}49`]: instruction,
  [`${T}50`]: supply,
  [`${R1}34`]: supply,
  [`${T}60`]: coverage,
  [`${R1}20`]: coverage,
  [`${T}202`]: note,
  [`${T}45`]: familyHistory,
  [`${R1}23`]: familyHistory,
  [`${T}48`]: observation,
  [`${T}108`]: panel,
  [`${T}144`]: observation,
  [`${T}124`]: observation,
  [`${T}19`]: observation,
  [`${T}64`]: skip,
  [`${T}122`]: skip,
};

/** What a section kind makes of a statement no template above claims. */
function byKind(node: XNode, kind: SectionKind): Mapper | undefined {
  const tag = tagOf(node);
  const mood = attr(node, 'moodCode') ?? 'EVN';
  switch (kind) {
    case 'allergies':
      return allergy;
    case 'problems':
    case 'health-concerns':
    case 'diagnoses':
      return tag === 'act' || tag === 'observation' ? condition : undefined;
    case 'medications':
      return tag === 'substanceAdministration' ? medication : tag === 'act' ? unwrap : undefined;
    case 'immunizations':
      return tag === 'substanceAdministration' ? immunization : undefined;
    case 'results':
      return tag === 'organizer' ? resultOrganizer : tag === 'observation' ? observation : undefined;
    case 'vital-signs':
      return tag === 'organizer' ? vitalsOrganizer : tag === 'observation' ? observation : undefined;
    case 'social-history':
      return tag === 'observation' ? socialObservation : undefined;
    case 'procedures':
      return tag === 'procedure' || tag === 'act' || tag === 'observation' ? procedure : undefined;
    case 'encounters':
      return tag === 'encounter' ? encounter : undefined;
    case 'plan-of-treatment':
      if (tag === 'substanceAdministration') return plannedMedication;
      if (tag === 'observation' && mood === 'GOL') return goal;
      return planned;
    case 'goals':
      return goal;
    case 'functional-status':
    case 'mental-status':
    case 'nutrition':
    case 'outcomes':
    case 'advance-directives':
      return tag === 'organizer' ? panel : tag === 'observation' ? observation : undefined;
    case 'medical-equipment':
      return tag === 'supply' ? supply : tag === 'procedure' ? procedure : tag === 'organizer' ? unwrap : undefined;
    case 'payers':
      return coverage;
    case 'notes':
      return note;
    case 'family-history':
      return tag === 'organizer' ? familyHistory : undefined;
    case 'referral':
      return referral;
    case 'instructions':
      return instruction;
    case 'interventions':
      return intervention;
    default:
      return undefined;
  }
}

/**
 * Maps one clinical statement of a section to FHIR resources: by entry template first, then by
 * what the section kind expects. Returns the resources created (empty when it maps to nothing,
 * which the caller reports).
 */
export function mapStatement(node: XNode, ctx: ImportContext, kind: SectionKind): AnyRef[] {
  const roots = templateRoots(node);
  for (const root of roots) {
    const mapper = BY_TEMPLATE[root];
    if (mapper) return mapper(node, ctx, kind);
  }
  const mapper = byKind(node, kind);
  if (mapper) return mapper(node, ctx, kind);
  ctx.warn(`No mapping for <${tagOf(node)}> with templateId ${roots.join(', ') || '(none)'}; its narrative is kept`);
  return [];
}
