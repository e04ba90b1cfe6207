/**
 * Holds our validator (src/fhir/validator/) to @medplum/core's: both run on their own copy of a resource, and must
 * return or throw the same, and leave the copies alike (medplum merges `_name` extensions into object values in place).
 */
import { isDeepStrictEqual } from 'node:util';
import { OperationOutcomeError, validateResource as medplumValidateResource } from '@medplum/core';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { validateResource, type ValidatorOptions } from '../../src/fhir/validator/resource-validator';

/** What a validator did: returned issues, threw an OperationOutcome, or failed otherwise. */
export type Outcome = { returned: unknown } | { thrown: OperationOutcome } | { error: string };

function outcomeOf(validate: () => unknown): Outcome {
  try {
    return { returned: validate() };
  } catch (err) {
    if (err instanceof OperationOutcomeError) return { thrown: err.outcome };
    return { error: `${(err as Error).constructor.name}: ${(err as Error).message}` };
  }
}

/** Asserts both validators agree on `resource` (a failure shows the case, `name` included); returns the outcome. */
export function expectSameAsMedplum(resource: Resource, options?: ValidatorOptions, name?: string): Outcome {
  const ours = structuredClone(resource);
  const theirs = structuredClone(resource);
  const outcome = outcomeOf(() => validateResource(ours, options));
  const expected = outcomeOf(() => medplumValidateResource(theirs, options));
  if (!isDeepStrictEqual(outcome, expected) || !isDeepStrictEqual(ours, theirs)) {
    const label = name === undefined ? {} : { name };
    expect({ ...label, resource, outcome, after: ours }).toStrictEqual({ ...label, resource, outcome: expected, after: theirs });
  }
  return outcome;
}
