import { randomUUID } from 'node:crypto';
import type { Organization, Patient, Resource } from '@medplum/fhirtypes';
import { patientEverything } from '../../fhir/operations/patient-everything';
import type { Repository } from '../../fhir/repository';
import { CCD_RECORD_TYPES, parseDocumentPeriod } from '../../ccda/render';
import type { CcdInput } from '../../ccda/render';
import { type CcdOutputs, renderCcdOffThread, type RenderedCcdFiles } from './render-ccd-off-thread';

/** A rendered CCD (with its preview and zip when asked) and what it was rendered from (for XDM metadata and DocumentReferences). */
export interface RenderedCcd extends RenderedCcdFiles {
  readonly input: CcdInput;
}

/** Used when the patient names no managing organization and the record holds none. */
const FALLBACK_CUSTODIAN: Organization = { resourceType: 'Organization', id: 'chartkeeper', name: 'Chartkeeper' };

/**
 * Renders the CCD of one patient for a period (`start`/`end` as YYYY-MM-DD, inclusive; none = all
 * time) from what the caller's repository lets them see, with its HTML preview and IHE XDM zip when `outputs` asks
 * for them (each with its preview's options). The period rule lives in ccda/period. The record is read here; the
 * document is rendered on a worker thread (render-ccd-off-thread.ts).
 */
export async function renderCcdForPatient(
  repo: Repository,
  patientId: string,
  start?: string,
  end?: string,
  outputs: CcdOutputs = {},
): Promise<RenderedCcd> {
  const period = parseDocumentPeriod(start, end);
  // Only what the document is made of: a record's messages and files (which grow every day) are not read.
  const everything = await patientEverything(repo, patientId, { types: CCD_RECORD_TYPES });
  const resources = (everything.entry ?? []).map((e) => e.resource as Resource);
  const patient = resources.find((r) => r.resourceType === 'Patient' && r.id === patientId) as Patient;
  const input: CcdInput = {
    patient,
    resources: resources.filter((r) => r !== patient),
    period,
    custodian: custodianOf(patient, resources),
    documentId: randomUUID(),
    now: repo.context.clock.now(),
  };
  return { ...(await renderCcdOffThread(input, outputs)), input };
}

function custodianOf(patient: Patient, resources: Resource[]): Organization {
  const managing = patient.managingOrganization?.reference?.split('/')[1];
  const organizations = resources.filter((r): r is Organization => r.resourceType === 'Organization');
  return organizations.find((o) => o.id === managing) ?? organizations[0] ?? FALLBACK_CUSTODIAN;
}
