/**
 * Patient/{id}/$portal-options (GET): what a portal form offers for this patient, as the caller may act on the
 * record. The providers who take part in the portal, each with their offices and what may be done with them
 * (`message`: the patient has seen them; `appointment`: they practise at the patient's practice; `renewal`: they
 * prescribed one of the patient's active medications), the practice, the message subjects, the appointment request
 * reasons and the medications that may be renewed. A family member at billing and appointments sees the appointment
 * choices only; nothing here is clinical beyond what the caller's level shows.
 */
import { sql } from 'kysely';
import type {
  Coding,
  MedicationRequest,
  Parameters,
  ParametersParameter,
  Patient,
  Practitioner,
  PractitionerRole,
  Reference,
} from '@medplum/fhirtypes';
import type { AccessLevel } from '../../access/access-level';
import type { AccessScope } from '../../access/access-scope';
import type { PortalScope } from '../../access/portal-scope';
import type { FhirOperation } from '../../fhir/operations/operation';
import type { Repository } from '../../fhir/repository';
import { catalogCodeSystem } from '../../fhir/terminology-catalog';
import { loadFhirDefinitions } from '../../fhir/definitions';
import { badRequest } from '../../fhir/outcomes';
import { recipientsFor } from '../messaging/message-lookup';
import { MESSAGE_SUBJECT_SYSTEM } from '../messaging/message-rules';
import { visiblePatient } from '../operation-support';
import { APPOINTMENT_REASON_SYSTEM } from './appointment-request-rules';
import { resolveProvider, takesPart } from './provider-participation';

/** What may be done with a provider through the portal. */
export type PortalAction = 'message' | 'appointment' | 'renewal';

/** The actions each level allows on the record (staff act for the practice: everything). */
export function actionsAt(level: AccessLevel): readonly PortalAction[] {
  if (level === 'full') return ['message', 'appointment', 'renewal'];
  if (level === 'billing+appointments') return ['appointment'];
  return [];
}

/** The caller's level on a patient's record: staff and the service act with full access. */
export function levelOn(scope: AccessScope, patientId: string): AccessLevel {
  if (scope.unrestricted || scope.organizationId) return 'full';
  return (scope as Partial<PortalScope>).levelFor?.(patientId) ?? 'none';
}

/** Patient/{id}/$portal-options. */
export const portalOptionsOperation: FhirOperation = {
  info: {
    name: 'portal-options',
    resourceType: 'Patient',
    definition: 'https://chartkeeper.example/fhir/OperationDefinition/Patient-portal-options',
  },
  level: 'instance',
  methods: ['GET'],
  async handle({ repo, id, params }) {
    for (const name of Object.keys(params))
      if (name !== '_format') throw badRequest(`$portal-options takes no parameter; ${name} was given`, name);
    const options = await repo.asOperation('$portal-options', () => portalOptions(repo, id));
    return { kind: 'resource', resource: options };
  },
};

async function portalOptions(repo: Repository, id: string | undefined): Promise<Parameters> {
  loadFhirDefinitions();
  const patient = await visiblePatient(repo, id);
  const patientId = patient.id as string;
  const allowed = new Set(actionsAt(levelOn(repo.context.scope, patientId)));
  const read = async <T extends Practitioner | PractitionerRole>(type: T['resourceType'], rid: string): Promise<T | undefined> =>
    repo.read<T>(type, rid).catch(() => undefined);

  const providers = new Map<string, { practitioner: Practitioner; roles: PractitionerRole[]; actions: Set<PortalAction> }>();
  const entry = (practitioner: Practitioner) => {
    const key = practitioner.id as string;
    let found = providers.get(key);
    if (!found) providers.set(key, (found = { practitioner, roles: [], actions: new Set() }));
    return found;
  };
  // A reduced view (billing and appointments) leaves the practice out of the Patient it shows; the caller may see
  // the record, so its practice is read as stored, to offer the providers there.
  const practice = patient.managingOrganization?.reference ?? (await storedPractice(repo, patientId));
  if (allowed.has('appointment') && practice) {
    for (const role of await repo.searchResources<PractitionerRole>('PractitionerRole', { organization: practice })) {
      const provider = await resolveProvider({ reference: `PractitionerRole/${role.id}` }, read);
      if (!provider?.takesPart || !provider.practitioner) continue;
      const found = entry(provider.practitioner);
      found.roles.push(role);
      found.actions.add('appointment');
    }
  }
  if (allowed.has('message')) {
    for (const reference of await recipientsFor(repo.db, [patientId])) {
      if (!reference.startsWith('Practitioner/')) continue;
      const practitioner = await read<Practitioner>('Practitioner', reference.slice('Practitioner/'.length));
      if (takesPart(practitioner)) entry(practitioner as Practitioner).actions.add('message');
    }
  }
  const renewable: MedicationRequest[] = [];
  if (allowed.has('renewal')) {
    for (const request of await repo.searchResources<MedicationRequest>('MedicationRequest', {
      patient: `Patient/${patientId}`,
      status: 'active',
    })) {
      const prescriber = await resolveProvider(request.requester, read);
      if (!prescriber?.takesPart) continue;
      renewable.push(request);
      if (prescriber.practitioner) entry(prescriber.practitioner).actions.add('renewal');
    }
  }

  const parameter: ParametersParameter[] = [];
  for (const { practitioner, roles, actions } of [...providers.values()].sort((a, b) =>
    nameOf(a.practitioner).localeCompare(nameOf(b.practitioner)),
  )) {
    parameter.push({
      name: 'provider',
      part: [
        { name: 'practitioner', valueReference: { reference: `Practitioner/${practitioner.id}`, display: nameOf(practitioner) } },
        ...roles.map((role) => ({
          name: 'role',
          valueReference: {
            reference: `PractitionerRole/${role.id}`,
            display:
              role.location
                ?.map((l) => l.display)
                .filter(Boolean)
                .join(', ') || undefined,
          },
        })),
        ...roles.flatMap((role) => (role.location ?? []).map((location: Reference) => ({ name: 'office', valueReference: location }))),
        ...[...actions].sort().map((action) => ({ name: 'action', valueCode: action })),
      ],
    });
  }
  if (practice && allowed.has('message')) {
    parameter.push({
      name: 'practice',
      part: [
        { name: 'organization', valueReference: { reference: practice } },
        { name: 'action', valueCode: 'message' },
      ],
    });
  }
  if (allowed.has('message'))
    for (const coding of codings(MESSAGE_SUBJECT_SYSTEM)) parameter.push({ name: 'message-subject', valueCoding: coding });
  if (allowed.has('appointment'))
    for (const coding of codings(APPOINTMENT_REASON_SYSTEM)) parameter.push({ name: 'appointment-reason', valueCoding: coding });
  for (const request of renewable) {
    parameter.push({
      name: 'renewable-medication',
      part: [
        {
          name: 'medication-request',
          valueReference: {
            reference: `MedicationRequest/${request.id}`,
            display: request.medicationCodeableConcept?.text ?? request.medicationCodeableConcept?.coding?.[0]?.display,
          },
        },
        ...(request.requester ? [{ name: 'prescriber', valueReference: request.requester }] : []),
      ],
    });
  }
  return { resourceType: 'Parameters', parameter };
}

async function storedPractice(repo: Repository, patientId: string): Promise<string | undefined> {
  const { rows } = await sql<{
    content: string;
  }>`select content from resource where resource_type = 'Patient' and id = ${patientId} and not deleted`.execute(repo.db);
  return rows[0] ? (JSON.parse(rows[0].content) as Patient).managingOrganization?.reference : undefined;
}

function codings(system: string): Coding[] {
  return (catalogCodeSystem(system)?.concept ?? []).map((c) => ({ system, code: c.code, display: c.display }));
}

function nameOf(practitioner: Practitioner): string {
  const name = practitioner.name?.[0];
  return name?.text ?? [name?.prefix?.join(' '), name?.given?.join(' '), name?.family].filter(Boolean).join(' ');
}
