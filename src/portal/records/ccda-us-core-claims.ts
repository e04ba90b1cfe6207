/**
 * The C-CDA import's output claims US Core where it meets it: each resource a document maps to gets the US Core
 * 6.1.0 profile it passes (src/fhir/us-core-claims.ts). Runs on the parse worker, after parseCcda, so the validation
 * this takes stays off the thread that serves requests.
 */
import type { CcdaImportResult } from '../../ccda/parse';
import { loadFhirDefinitions } from '../../fhir/definitions';
import { claimUsCoreProfile } from '../../fhir/us-core-claims';

/** The parse result with each of its resources claiming the US Core profile it meets (changed in place). */
export function claimUsCoreProfiles(parsed: CcdaImportResult): CcdaImportResult {
  loadFhirDefinitions();
  for (const entry of parsed.bundle.entry) if (entry.resource) claimUsCoreProfile(entry.resource);
  return parsed;
}
