/**
 * Bulk Data Access 2.0 kick-off: `$export` at the system level, `Patient/$export` and `Group/{id}/$export`. The answer
 * is 202 with the status URL in Content-Location (src/fhir/bulk-export).
 */
import type { OperationOutcome, Parameters, Reference } from '@medplum/fhirtypes';
import { type ExportLevel, startExport } from '../bulk-export/export-kickoff';
import { exportStatusUrl } from '../bulk-export/export-status';
import { badRequest } from '../outcomes';
import type { FhirOperation, OperationContext, OperationResult } from './operation';

const DEFINITION = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/';

async function kickOff(context: OperationContext, level: ExportLevel): Promise<OperationResult> {
  const { repo, caller, id } = context;
  // The plain values, repeated `_type`s joined, are in context.params already (from the query and the body alike);
  // the body's own reading adds those of other kinds (a `patient` reference), for the checks to refuse by name.
  const params = { ...parametersOf(context.body), ...context.params };
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

/**
 * A POST's Parameters as the kick-off checks them. The generic reading keeps plain values only, so a `patient` (a
 * valueReference, which this server does not offer) would be ignored, exporting every patient instead of those named:
 * here a value of another kind stands as its reference or its JSON, for the checks to judge; `_type`s are joined by
 * commas, and another name given twice is refused.
 */
function parametersOf(body: unknown): Record<string, string> {
  if (typeof body !== 'object' || body === null || (body as Parameters).resourceType !== 'Parameters') return {};
  const out: Record<string, string> = {};
  for (const parameter of (body as Parameters).parameter ?? []) {
    const name = String(parameter.name);
    const value: unknown = Object.entries(parameter).find(([key]) => key.startsWith('value'))?.[1];
    const text =
      typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? String(value)
        : ((value as Reference | undefined)?.reference ?? JSON.stringify(value ?? parameter.resource ?? parameter.part ?? null));
    if (Object.hasOwn(out, name) && name !== '_type') throw badRequest(`$export takes one ${name.slice(0, 64)}`, name);
    out[name] = Object.hasOwn(out, name) ? `${out[name]},${text}` : text;
  }
  return out;
}

/** GET|POST /fhir/$export: every resource the caller may see. */
export const systemExportOperation: FhirOperation = {
  info: { name: 'export', definition: `${DEFINITION}export` },
  level: 'system',
  methods: ['GET', 'POST'],
  repeatable: ['_type'],
  handle: (context) => kickOff(context, 'system'),
};

/** GET|POST /fhir/Patient/$export: the records of every patient the caller may see. */
export const patientExportOperation: FhirOperation = {
  info: { name: 'export', resourceType: 'Patient', definition: `${DEFINITION}patient-export` },
  level: 'type',
  methods: ['GET', 'POST'],
  repeatable: ['_type'],
  handle: (context) => kickOff(context, 'patient'),
};

/** GET|POST /fhir/Group/{id}/$export: the records of the Group's patients (a practice's panel). */
export const groupExportOperation: FhirOperation = {
  info: { name: 'export', resourceType: 'Group', definition: `${DEFINITION}group-export` },
  level: 'instance',
  methods: ['GET', 'POST'],
  repeatable: ['_type'],
  handle: (context) => kickOff(context, 'group'),
};
