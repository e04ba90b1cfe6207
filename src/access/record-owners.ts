/**
 * Whose record a resource belongs to: its owners, which is what access follows. A resource is in the FHIR patient
 * compartment of every patient it names through the compartment's links (a Condition's patient and asserter, an
 * Observation's subject and performer, an Appointment's participants), but it belongs to the record of the patient it
 * is about: its subject. The other links make it findable from that patient (search, the audit trail) and give nobody
 * more than they may see of the subject's record. A caller sees a resource only when they may see its type in the
 * record of every owner, and a reduced view shows it at the lowest of their levels on those records.
 */

/** Types whose subject link is not called `patient` or `subject` in the R4 patient CompartmentDefinition. */
const SUBJECT_PARAMS: Readonly<Record<string, readonly string[]>> = {
  // Every patient taking part: a group visit is in each one's record, so each must be visible to see it.
  Appointment: ['actor'],
  // The covered patient; the policy holder and subscriber (often a parent) are the other links.
  Coverage: ['beneficiary'],
};

/**
 * The compartment parameters that name a resource's owners, given the type's patient compartment parameters: its
 * `patient` link where it has one, else its `subject` (as FHIR's own compartment lists put them first), else every link.
 */
export function ownerParams(type: string, compartmentParams: readonly string[]): readonly string[] {
  const own = SUBJECT_PARAMS[type];
  if (own) return own;
  if (compartmentParams.includes('patient')) return ['patient'];
  if (compartmentParams.includes('subject')) return ['subject'];
  return compartmentParams;
}

/**
 * The owners of a resource from the patients its links name: those named by its owner parameters, or, when it has
 * no patient subject (an Observation of a Group with a patient as performer), every patient of its compartments.
 */
export function ownersFrom(compartments: readonly string[], namedBySubject: readonly string[]): string[] {
  return namedBySubject.length ? [...new Set(namedBySubject)] : [...compartments];
}

/** The owner key of a file kept outside every patient's record: the uploading organisation's, else the operator's. */
export function uploaderOwner(organizationId: string | undefined): string {
  // "Organization/" with no id is no organisation's: only unrestricted callers (the operator, the service) see it.
  return `Organization/${organizationId ?? ''}`;
}

/** True for an owner key that is an organisation's (an upload outside every record), not a patient id. */
export function isUploaderOwner(owner: string): boolean {
  return owner.startsWith('Organization/');
}
