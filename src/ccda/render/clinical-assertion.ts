import type { CodeableConcept } from '@medplum/fhirtypes';
import { codableCodings } from './cda-datatype-writers';
import { hasCode } from './fhir-read';

/**
 * What a stored assertion says, as the document must say it: affirmed, denied (refuted, not taken, not given),
 * "none known", or no information at all. The table in ccda-templates/README.md is the contract; each section's
 * entry writer reads its FHIR status through these helpers so the narrative and the coded entry never disagree.
 */

/** The "no known ..." codes the import writes (SNOMED situations and the IPS absent-unknown codes). */
const NO_KNOWN_CODES = [
  '716186003',
  '409137002',
  '429625007',
  '428607008',
  '160245001',
  'no-known-medications',
  'no-known-immunizations',
  'no-medication-info',
  'no-immunization-info',
];

/** Text vendors and older imports wrote where there was no code: it is not a name to show. */
const PLACEHOLDER_TEXT = /^(unknown( [a-z]+)?|no information|none|n\/?a|null|-+)$/i;

/** The narrative words for a row whose concept carries neither a usable code nor a real name. */
export const NO_INFORMATION = 'No information';

/** Whether the concept is one of the "no known ..." codes (the import's no-known representation). */
export function isNoKnown(cc: CodeableConcept | undefined): boolean {
  return hasCode(cc, NO_KNOWN_CODES);
}

/** Whether a verificationStatus says the assertion was refuted (the patient does not have it). */
export function isRefuted(verification: CodeableConcept | undefined): boolean {
  return hasCode(verification, ['refuted']);
}

/** Whether a verificationStatus leaves the assertion open (unconfirmed, provisional, differential). */
export function isUnconfirmed(verification: CodeableConcept | undefined): boolean {
  return hasCode(verification, ['unconfirmed', 'provisional', 'differential']);
}

/**
 * Whether a concept names nothing: no code C-CDA can carry and no real text (absent, or a placeholder
 * such as "Unknown medication"). Such an entry is rendered in the "no information" pattern.
 */
export function hasNoInformation(cc: CodeableConcept | undefined): boolean {
  if (codableCodings(cc).length > 0) return false;
  const text = cc?.text ?? cc?.coding?.find((c) => c.display)?.display;
  return !text || PLACEHOLDER_TEXT.test(text.trim());
}

/** The concept's name for the narrative: its text or display, "No information" when it names nothing. */
export function assertionName(cc: CodeableConcept | undefined, text: string): string {
  return hasNoInformation(cc) ? NO_INFORMATION : text;
}
