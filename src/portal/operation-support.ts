/**
 * Small helpers the account $operations share: answers as FHIR Parameters, and the patient a staff caller may
 * act on (read through the caller's own repository, so staff only reach their organization's patients).
 */
import type { Parameters, ParametersParameter, Patient } from '@medplum/fhirtypes';
import type { Caller } from '../access/caller';
import type { Account } from '../auth/account-store';
import { badRequest } from '../fhir/outcomes';
import type { Repository } from '../fhir/repository';
import type { OperationResult } from '../fhir/operations/operation';

/** A flat record of strings, numbers and booleans as a Parameters resource. */
export function parametersResult(values: Record<string, string | number | boolean | undefined>, status = 200): OperationResult {
  const parameter: ParametersParameter[] = [];
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (typeof value === 'boolean') parameter.push({ name, valueBoolean: value });
    else if (typeof value === 'number') parameter.push({ name, valueInteger: value });
    else parameter.push({ name, valueString: value });
  }
  const resource: Parameters = { resourceType: 'Parameters', parameter };
  return { kind: 'resource', status, resource };
}

/** The patient of an instance-level operation, read with the caller's access (404 when not visible). */
export async function visiblePatient(repo: Repository, id: string | undefined): Promise<Patient> {
  if (!id) throw badRequest('This operation runs on a Patient: Patient/{id}/$operation');
  return repo.read<Patient>('Patient', id);
}

/** The Practitioner reference that records a staff action: the staff account's, or a Practitioner token subject. */
export function staffPerformer(caller: Caller, staff: Account | undefined): string {
  if (staff?.practitioner_id) return `Practitioner/${staff.practitioner_id}`;
  if (/^Practitioner\/[A-Za-z0-9\-.]{1,64}$/.test(caller.subject)) return caller.subject;
  throw badRequest('A legal authorization is recorded by a staff member: sign in with a staff account linked to a Practitioner');
}
