/**
 * Bulk Data Access 2.0 kick-off: `$export` at the system level, `Patient/$export` and `Group/{id}/$export`. The answer
 * is 202 with the status URL in Content-Location (src/fhir/bulk-export).
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import { type ExportLevel, startExport } from '../bulk-export/export-kickoff';
import { exportStatusUrl } from '../bulk-export/export-status';
import type { FhirOperation, OperationContext, OperationResult } from './operation';

const DEFINITION = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/';

async function kickOff(context: OperationContext, level: ExportLevel): Promise<OperationResult> {
  const { repo, caller, params, id } = context;
  const jobId = await startExport(repo, caller, { level, groupId: id, params });
  const location = exportStatusUrl(repo.context.fhirBase, jobId);
  const accepted: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', details: { text: `The export is queued; poll ${location} for its status` } }],
  };
  return {
    kind: 'content',
    status: 202,
    contentType: 'application/fhir+json; charset=utf-8',
    body: JSON.stringify(accepted),
    headers: { 'Content-Location': location },
  };
}

/** GET|POST /fhir/$export: every resource the caller may see. */
export const systemExportOperation: FhirOperation = {
  info: { name: 'export', definition: `${DEFINITION}export` },
  level: 'system',
  methods: ['GET', 'POST'],
  handle: (context) => kickOff(context, 'system'),
};

/** GET|POST /fhir/Patient/$export: the records of every patient the caller may see. */
export const patientExportOperation: FhirOperation = {
  info: { name: 'export', resourceType: 'Patient', definition: `${DEFINITION}patient-export` },
  level: 'type',
  methods: ['GET', 'POST'],
  handle: (context) => kickOff(context, 'patient'),
};

/** GET|POST /fhir/Group/{id}/$export: the records of the Group's patients (a practice's panel). */
export const groupExportOperation: FhirOperation = {
  info: { name: 'export', resourceType: 'Group', definition: `${DEFINITION}group-export` },
  level: 'instance',
  methods: ['GET', 'POST'],
  handle: (context) => kickOff(context, 'group'),
};
