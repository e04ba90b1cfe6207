import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { importCcda, CcdaImportSummary } from './ccda-import-service';
import { badRequest, forbidden, unsupportedMediaType } from '../../fhir/outcomes';
import type { FhirOperation } from '../../fhir/operations/operation';

const XML_TYPES = ['application/xml', 'text/xml', 'application/cda+xml', 'application/hl7-cda+xml'];

/**
 * POST /fhir/$import-ccda with a C-CDA document as the body: the document's content as FHIR, in one
 * transaction. Staff and systems only: a portal user cannot write another EHR's document into a record.
 */
export function importCcdaOperation(maxBytes: number, parseHeapMb?: number): FhirOperation {
  return {
    info: { name: 'import-ccda', definition: 'https://chartkeeper.dev/fhir/OperationDefinition/import-ccda' },
    level: 'system',
    methods: ['POST'],
    heavyWrite: true,
    body: 'xml',
    async handle({ repo, caller, body, contentType }) {
      if (caller.kind === 'user') throw forbidden('Importing C-CDA documents is for staff and connected systems');
      const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
      if (!XML_TYPES.includes(type))
        throw unsupportedMediaType(`$import-ccda takes the document as application/xml, got "${type || 'no content type'}"`);
      if (!Buffer.isBuffer(body) || !body.length) throw badRequest('$import-ccda needs the C-CDA document as the request body');
      const summary = await importCcda(repo, body, { maxBytes, parseHeapMb });
      return {
        kind: 'resource',
        status: summary.document.alreadyImported && !Object.keys(summary.created).length ? 200 : 201,
        resource: summaryParameters(summary),
      };
    },
  };
}

/** The import summary as a FHIR Parameters resource. */
export function summaryParameters(summary: CcdaImportSummary): Parameters {
  const counts = (name: string, tally: Record<string, number>): ParametersParameter => ({
    name,
    part: Object.entries(tally).map(([type, n]) => ({ name: type, valueInteger: n })),
  });
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'patient', valueReference: { reference: summary.patient.reference } },
      { name: 'patientMatch', valueCode: summary.patient.match },
      ...(summary.patient.by ? [{ name: 'matchedBy', valueString: summary.patient.by }] : []),
      { name: 'documentKind', valueCode: summary.document.kind },
      { name: 'release', valueString: summary.document.release },
      { name: 'alreadyImported', valueBoolean: summary.document.alreadyImported },
      ...(summary.document.reference ? [{ name: 'document', valueReference: { reference: summary.document.reference } }] : []),
      counts('created', summary.created),
      counts('updated', summary.updated),
      counts('unchanged', summary.unchanged),
      ...summary.warnings.map((w) => ({ name: 'warning', valueString: w })),
    ],
  };
}
