import type { Binary, Bundle, DocumentReference } from '@medplum/fhirtypes';
import { unrestrictedScope } from '../../access/access-scope';
import { renderCcdForPatient } from './ccd-for-patient';
import { ccdDocumentReference } from '../../ccda/render';
import { hasFullAccess } from '../../access/full-access';
import { patientViewScope } from '../../access/portal-scope';
import { contentOf } from '../../fhir/binary/content-receiver';
import { badRequest, forbidden } from '../../fhir/outcomes';
import { Repository } from '../../fhir/repository';
import type { FhirOperation } from '../../fhir/operations/operation';

/**
 * DocumentReference/$docref (US Core): DocumentReferences to the patient's CCDs. With on-demand=true, or
 * when none is stored for the period, a CCD is rendered now, kept as a Binary, and referenced.
 */
export const docrefOperation: FhirOperation = {
  info: { name: 'docref', resourceType: 'DocumentReference', definition: 'http://hl7.org/fhir/us/core/OperationDefinition/docref' },
  level: 'type',
  methods: ['GET', 'POST'],
  async handle({ repo, params }) {
    const patientId = params.patient?.replace(/^Patient\//, '');
    if (!patientId) throw badRequest('$docref needs the patient parameter', 'patient');
    if (params.type && !/(^|\|)34133-9$/.test(params.type))
      throw badRequest('$docref only offers the CCD type http://loinc.org|34133-9', 'type');
    const onDemand = params['on-demand'] === 'true';
    if (params['on-demand'] && !['true', 'false'].includes(params['on-demand']))
      throw badRequest('on-demand must be true or false', 'on-demand');
    if (!onDemand) {
      const stored = await storedCcds(repo, patientId, params.start, params.end);
      if (stored.length) return { kind: 'resource', resource: searchset(repo, stored) };
    }
    // A stored CCD is part of the patient's record that the patient and everyone with full access will
    // read, so it must say what the patient may see: rendered from the patient's own view (no unreleased
    // results), and only for callers who may see all of that themselves.
    await repo.read('Patient', patientId);
    if (!hasFullAccess(repo.context.scope, patientId)) throw forbidden('Generating a stored CCD needs full access to the patient');
    const patientView = new Repository(repo.db, { ...repo.context, scope: patientViewScope(patientId) });
    const { xml, input } = await repo.asOperation('$docref', () => renderCcdForPatient(patientView, patientId, params.start, params.end));
    const system = new Repository(repo.db, { ...repo.context, scope: unrestrictedScope('system $docref') });
    const reference = await system.transaction(async (trx) => {
      const { resource: binary } = await trx.create<Binary>(
        { resourceType: 'Binary', contentType: 'application/xml', securityContext: { reference: `Patient/${patientId}` } },
        { content: contentOf(Buffer.from(xml, 'utf8')) },
      );
      const { resource } = await trx.create<DocumentReference>(
        ccdDocumentReference({ ...input, xml, binary: { reference: `Binary/${binary.id}` } }),
      );
      return resource;
    });
    return { kind: 'resource', resource: searchset(repo, [reference]) };
  },
};

async function storedCcds(repo: Repository, patientId: string, start?: string, end?: string): Promise<DocumentReference[]> {
  const query: Record<string, string> = { patient: patientId, type: 'http://loinc.org|34133-9', _sort: '-date' };
  const found = await repo.searchResources<DocumentReference>('DocumentReference', query);
  // A stored CCD answers when it covers exactly the requested period (none = all time).
  return found.filter(
    (d) => (d.context?.period?.start ?? undefined) === (start || undefined) && (d.context?.period?.end ?? undefined) === (end || undefined),
  );
}

function searchset(repo: Repository, references: DocumentReference[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: references.length,
    entry: references.map((resource) => ({
      fullUrl: `${repo.context.fhirBase}/DocumentReference/${resource.id}`,
      resource,
      search: { mode: 'match' },
    })),
  };
}
