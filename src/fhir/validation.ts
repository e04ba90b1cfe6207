import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { isSupportedType, localProfileFor } from './definitions';
import { badRequest, invalidResource } from './outcomes';
import { requiredBindingIssues } from './required-bindings';
import { coversBaseDefinition, usCoreClaimsOf } from './us-core-profiles';
import { validateResource } from './validator/resource-validator';

/**
 * Checks a resource against the R4 definitions and, when fhir-profiles/ constrains its type, that
 * profile too, and every US Core profile it claims in meta.profile. Throws 400 with one issue per problem, each with
 * its FHIRPath location.
 */
export function assertValidResource(resource: unknown, expectedType?: string): asserts resource is Resource {
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
    throw badRequest('The body must be a JSON object holding one FHIR resource');
  }
  const type = (resource as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string' || !type) throw badRequest('The resource has no resourceType', 'resourceType');
  if (expectedType && type !== expectedType) {
    throw badRequest(`The resource is a ${type} but the URL is for ${expectedType}`, 'resourceType');
  }
  if (!isSupportedType(type)) throw badRequest(`Unsupported resource type: ${type}`, 'resourceType');
  const claims = usCoreClaimsOf(resource as Resource);
  // A claimed US Core profile's snapshot holds every element of the type, so validating against it checks what the
  // R4 base does too: the base pass is spared (a resource claiming US Core costs one validation, not two).
  const covered = claims.some((c) => c.profile.type === type && coversBaseDefinition(c.profile));
  const issues = covered ? [] : problemsOf(resource as Resource);
  // medplum's validator leaves terminology out; required bindings we can expand offline are checked here.
  issues.push(...requiredBindingIssues(resource as Resource));
  const profile = localProfileFor(type);
  if (profile) issues.push(...problemsOf(resource as Resource, profile));
  // A claim of a US Core profile is held to that profile: each failed constraint is an issue naming it.
  for (const claim of claims) {
    if (claim.profile.type !== type) {
      issues.push({
        severity: 'error',
        code: 'invalid',
        details: { text: `meta.profile claims ${claim.url}, a profile of ${claim.profile.type}, not ${type}` },
        expression: ['meta.profile'],
      });
      continue;
    }
    for (const issue of problemsOf(resource as Resource, claim.profile)) {
      issues.push({ ...issue, details: { text: `${issue.details?.text ?? 'Invalid'} (US Core profile ${claim.profile.name})` } });
    }
  }
  if (issues.length) throw invalidResource(dedupe(issues));
}

/** Whether the resource meets this profile (no error against it; the R4 base is checked on write as always). */
export function meetsProfile(resource: Resource, profile: StructureDefinition): boolean {
  return problemsOf(resource, profile).length === 0;
}

/**
 * Our port of @medplum/core's validator (same issues, ~3x faster; see validator/resource-validator.ts)
 * returns warnings and throws the errors as medplum's does; we want the errors as a list.
 */
function problemsOf(resource: Resource, profile?: StructureDefinition): OperationOutcomeIssue[] {
  try {
    return errorsOf(validateResource(resource, profile ? { profile } : undefined));
  } catch (err) {
    if (err instanceof OperationOutcomeError) return errorsOf(err.outcome.issue ?? []);
    // The validator (medplum's, ported) throws a plain error on shapes it does not expect, such as a list of
    // extensions for a single primitive (`_postalCode: [...]`): the input is malformed, which is the client's 400.
    return [
      {
        severity: 'error',
        code: 'structure',
        details: { text: `The resource is malformed: ${err instanceof Error ? err.message : String(err)}` },
      },
    ];
  }
}

function errorsOf(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  return issues.filter((issue) => issue.severity === 'error' || issue.severity === 'fatal');
}

function dedupe(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.details?.text}|${issue.expression?.join()}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
