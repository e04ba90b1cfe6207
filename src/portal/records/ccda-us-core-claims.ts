/**
 * The C-CDA import's output claims US Core where it meets it: each resource a document maps to gets the US Core
 * 6.1.0 profile it passes (src/fhir/us-core-claims.ts). Claiming runs on the parse worker, after parseCcda, so the
 * validation it takes stays off the thread that serves requests; a claim the write then refuses is taken back.
 */
import type { BundleEntry } from '@medplum/fhirtypes';
import type { CcdaImportResult } from '../../ccda/parse';
import { loadFhirDefinitions } from '../../fhir/definitions';
import type { FhirError } from '../../fhir/outcomes';
import { claimUsCoreProfile, dropUsCoreClaims } from '../../fhir/us-core-claims';
import { usCoreClaimsOf } from '../../fhir/us-core-profiles';

/** The parse result with each of its resources claiming the US Core profile it meets (changed in place). */
export function claimUsCoreProfiles(parsed: CcdaImportResult): CcdaImportResult {
  loadFhirDefinitions();
  for (const entry of parsed.bundle.entry) if (entry.resource) claimUsCoreProfile(entry.resource);
  return parsed;
}

/** How validation.ts names a failed US Core constraint in an issue. */
const US_CORE_ISSUE = '(US Core profile ';

/** Takes back the US Core claims of the sent entries a refusal says fail them; true when it took any back. */
export function dropFailedUsCoreClaims(err: FhirError, sent: readonly BundleEntry[], parsed: CcdaImportResult): boolean {
  let dropped = false;
  for (const issue of err.outcome.issue ?? []) {
    if (!issue.details?.text?.includes(US_CORE_ISSUE)) continue;
    for (const expression of issue.expression ?? []) {
      const index = /^Bundle\.entry\[(\d+)\]/.exec(expression)?.[1];
      const fullUrl = index === undefined ? undefined : sent[Number(index)]?.fullUrl;
      const entry = fullUrl ? parsed.bundle.entry.find((e) => e.fullUrl === fullUrl) : undefined;
      if (entry?.resource && usCoreClaimsOf(entry.resource).length) {
        dropUsCoreClaims(entry.resource);
        dropped = true;
      }
    }
  }
  return dropped;
}
