import { validateResource } from '@medplum/core';
import { loadFhirDefinitions } from '../fhir/definitions';
import { actionOf, buildAuditEvent } from './audit-event';

beforeAll(() => loadFhirDefinitions());

test('an access by a family member: who, for whom, what, how and when, valid R4', () => {
  const event = buildAuditEvent({
    patientId: 'ada',
    agent: { who: { reference: 'RelatedPerson/dan', display: 'Dan Reyes' }, altId: 'acct-dan', name: 'Dan Reyes', requestor: true },
    interaction: 'search-type',
    resources: ['Observation/o1', 'Patient/ada', 'Observation/o1', 'Observation/o2'],
    recorded: new Date('2026-03-01T20:00:00Z'),
  });
  expect(event).toEqual({
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type', display: 'search-type' }],
    action: 'R',
    recorded: '2026-03-01T20:00:00.000Z',
    outcome: '0',
    agent: [{ who: { reference: 'RelatedPerson/dan', display: 'Dan Reyes' }, altId: 'acct-dan', name: 'Dan Reyes', requestor: true }],
    source: {
      observer: { display: 'Chartkeeper' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    entity: [
      {
        what: { reference: 'Patient/ada' },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
      },
      { what: { reference: 'Observation/o1' } },
      { what: { reference: 'Observation/o2' } },
    ],
  });
  expect(() => validateResource(event)).not.toThrow();
});

test('operations name themselves on the patient entity; actions by interaction', () => {
  const event = buildAuditEvent({
    patientId: 'ben',
    agent: { who: { display: 'staff:cli' }, requestor: true },
    interaction: 'operation',
    operation: '$everything',
    resources: [],
    recorded: new Date(0),
  });
  expect(event.entity).toEqual([
    expect.objectContaining({ what: { reference: 'Patient/ben' }, detail: [{ type: 'operation', valueString: '$everything' }] }),
  ]);
  expect(event.action).toBe('E');
  expect(
    (['read', 'vread', 'search-type', 'history-instance', 'history-type', 'create', 'update', 'delete', 'operation'] as const).map(
      actionOf,
    ),
  ).toEqual(['R', 'R', 'R', 'R', 'R', 'C', 'U', 'D', 'E']);
});
