/**
 * The AuditEvent that records one caller's access to one patient's record in one request: who acted (agent), for
 * whom (the Patient entity, which puts the event in that patient's compartment, so it is their activity history),
 * what (one entity per resource), how (the REST interaction and its action code) and when.
 */
import type { AuditEvent, AuditEventAgent, AuditEventEntity } from '@medplum/fhirtypes';

/** FHIR restful-interaction codes the repository records, plus 'operation' for $operations. */
export type AuditInteraction =
  'read' | 'vread' | 'search-type' | 'history-instance' | 'history-type' | 'create' | 'update' | 'delete' | 'operation';

/** AuditEvent.action: Create, Read, Update, Delete, Execute. */
export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';

/** The action code of an interaction. */
export function actionOf(interaction: AuditInteraction): AuditAction {
  switch (interaction) {
    case 'create':
      return 'C';
    case 'update':
      return 'U';
    case 'delete':
      return 'D';
    case 'operation':
      return 'E';
    default:
      return 'R';
  }
}

/** Everything one AuditEvent says. */
export interface AuditEventInput {
  readonly patientId: string;
  readonly agent: AuditEventAgent;
  readonly interaction: AuditInteraction;
  /** '$everything', '$ccda'... for operations. */
  readonly operation?: string;
  /** 'Observation/123' of every resource touched (the Patient itself may be among them). */
  readonly resources: readonly string[];
  readonly recorded: Date;
  /** When the accesses it records happened, if they spread over more than one instant (merged entries). */
  readonly since?: Date;
  /** Where the record was sent ($transmit: the addressee's email), recorded as a second, destination agent. */
  readonly recipient?: string;
}

/** DICOM's "Destination Role ID": the agent a record was sent to. */
const DESTINATION_ROLE = { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110152', display: 'Destination Role ID' };

const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';

/** Builds the AuditEvent (R4) of one access. */
export function buildAuditEvent(input: AuditEventInput): AuditEvent {
  const patient = `Patient/${input.patientId}`;
  const patientEntity: AuditEventEntity = {
    what: { reference: patient },
    type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
    role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    ...(input.operation ? { detail: [{ type: 'operation', valueString: input.operation }] } : {}),
  };
  const others = [...new Set(input.resources)].filter((r) => r !== patient);
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: input.interaction, display: input.interaction }],
    action: actionOf(input.interaction),
    recorded: input.recorded.toISOString(),
    ...(input.since && input.since < input.recorded
      ? { period: { start: input.since.toISOString(), end: input.recorded.toISOString() } }
      : {}),
    outcome: '0',
    agent: [
      input.agent,
      ...(input.recipient
        ? [{ type: { coding: [DESTINATION_ROLE] }, who: { display: input.recipient }, name: input.recipient, requestor: false }]
        : []),
    ],
    source: {
      observer: { display: 'Chartkeeper' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    entity: [
      patientEntity,
      // The other entities are the resources touched, each named by its reference alone: the reference says what it
      // is, and the patient entity says whose record. (Typing each as System Object / Domain Resource made a busy
      // minute's events four times larger and their indexing three times slower, and said nothing new.)
      ...others.map((what) => ({ what: { reference: what } })),
    ],
  };
}
