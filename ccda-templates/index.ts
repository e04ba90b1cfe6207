import { ALLERGIES_SECTION } from './allergies';
import { ENCOUNTERS_SECTION } from './encounters';
import { GOALS_SECTION } from './goals';
import { IMMUNIZATIONS_SECTION } from './immunizations';
import { MEDICAL_EQUIPMENT_SECTION } from './medical-equipment';
import { MEDICATIONS_SECTION } from './medications';
import { NOTES_SECTION } from './notes';
import { PAYERS_SECTION } from './payers';
import { PLAN_OF_TREATMENT_SECTION } from './plan-of-treatment';
import { HEALTH_CONCERNS_SECTION, PROBLEMS_SECTION } from './problems';
import { PROCEDURES_SECTION } from './procedures';
import { REASON_FOR_REFERRAL_SECTION } from './reason-for-referral';
import { RESULTS_SECTION } from './results';
import type { SectionDefinition } from './section-definition';
import { SOCIAL_HISTORY_SECTION } from './social-history';
import { FUNCTIONAL_STATUS_SECTION, MENTAL_STATUS_SECTION } from './status-observations';
import { VITAL_SIGNS_SECTION } from './vital-signs';

export type { NarrativeColumn, NarrativeRow, SectionData, SectionDefinition, TemplateIdRef } from './section-definition';

/**
 * Every section a Chartkeeper CCD carries, in document order. The first six are the ones the CCD
 * template requires (SHALL); the rest are the other USCDI sections.
 */
export const SECTION_DEFINITIONS: readonly SectionDefinition[] = Object.freeze([
  ALLERGIES_SECTION,
  MEDICATIONS_SECTION,
  PROBLEMS_SECTION,
  RESULTS_SECTION,
  SOCIAL_HISTORY_SECTION,
  VITAL_SIGNS_SECTION,
  PROCEDURES_SECTION,
  IMMUNIZATIONS_SECTION,
  ENCOUNTERS_SECTION,
  PLAN_OF_TREATMENT_SECTION,
  GOALS_SECTION,
  HEALTH_CONCERNS_SECTION,
  FUNCTIONAL_STATUS_SECTION,
  MENTAL_STATUS_SECTION,
  MEDICAL_EQUIPMENT_SECTION,
  PAYERS_SECTION,
  NOTES_SECTION,
  REASON_FOR_REFERRAL_SECTION,
]);

/** The section definition a templateId root (any version, R2.1 or R1.1) belongs to. */
export function findSectionByTemplateId(root: string): SectionDefinition | undefined {
  return SECTION_DEFINITIONS.find((d) => d.templateId.root === root || d.compatibleTemplateIds.some((t) => t.root === root));
}

/** The section definition for a section LOINC code. */
export function findSectionByLoinc(code: string): SectionDefinition | undefined {
  return SECTION_DEFINITIONS.find((d) => d.loinc.code === code);
}

export {
  ALLERGIES_SECTION,
  ENCOUNTERS_SECTION,
  FUNCTIONAL_STATUS_SECTION,
  GOALS_SECTION,
  HEALTH_CONCERNS_SECTION,
  IMMUNIZATIONS_SECTION,
  MEDICAL_EQUIPMENT_SECTION,
  MEDICATIONS_SECTION,
  MENTAL_STATUS_SECTION,
  NOTES_SECTION,
  PAYERS_SECTION,
  PLAN_OF_TREATMENT_SECTION,
  PROBLEMS_SECTION,
  PROCEDURES_SECTION,
  REASON_FOR_REFERRAL_SECTION,
  RESULTS_SECTION,
  SOCIAL_HISTORY_SECTION,
  VITAL_SIGNS_SECTION,
};
