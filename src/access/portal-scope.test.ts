import type { Appointment, ChargeItem, Communication, Observation, Patient } from '@medplum/fhirtypes';
import { portalScope, staffScope } from './portal-scope';

const ada = 'p-ada';
const ben = 'p-ben';
const cara = 'p-cara';
const scope = portalScope(
  [
    { patientId: ada, level: 'full', self: true },
    { patientId: ben, level: 'full', self: false, relatedPersonId: 'rp-ben' },
    { patientId: cara, level: 'billing', self: false, relatedPersonId: 'rp-cara-guardian' },
    // A second grant to Cara at a higher level wins; a 'none' grant gives nothing.
    { patientId: cara, level: 'billing+appointments', self: false, relatedPersonId: 'rp-cara' },
    { patientId: 'p-sam', level: 'none', self: false },
  ],
  'family account a-1',
);

test('per patient: the best level, the own record first, none dropped', () => {
  expect([...scope.access.values()].map((a) => [a.patientId, a.level, a.self, a.relatedPersonId])).toEqual([
    [ada, 'full', true, undefined],
    [ben, 'full', false, 'rp-ben'],
    [cara, 'billing+appointments', false, 'rp-cara'],
  ]);
  expect(scope.patients.get(ada)).toBeUndefined();
  expect([...(scope.patients.get(cara) ?? [])].sort()).toEqual([
    'Account',
    'Appointment',
    'ChargeItem',
    'Coverage',
    'Invoice',
    'Patient',
    'PaymentNotice',
    'PaymentReconciliation',
  ]);
  expect(scope.patients.has('p-sam')).toBe(false);
  expect([scope.levelFor(cara), scope.levelFor('p-sam'), scope.unrestricted, scope.releasedOnly]).toEqual([
    'billing+appointments',
    'none',
    false,
    true,
  ]);
  // The own record cannot be lowered by a grant to oneself.
  const own = portalScope(
    [
      { patientId: ada, level: 'full', self: true },
      { patientId: ada, level: 'billing', self: false },
    ],
    'x',
  );
  expect(own.levelFor(ada)).toBe('full');
});

test('present: reduced views for the reduced patients only', () => {
  const patient: Patient = {
    resourceType: 'Patient',
    id: cara,
    gender: 'female',
    birthDate: '2010-07-02',
    name: [{ family: 'Park' }],
    address: [{ city: 'Seattle' }],
  };
  expect(scope.present(patient)).toEqual({ resourceType: 'Patient', id: cara, name: [{ family: 'Park' }], birthDate: '2010-07-02' });
  expect(scope.present({ ...patient, id: ben })).toEqual({ ...patient, id: ben });
  const appointment: Appointment = {
    resourceType: 'Appointment',
    id: 'a1',
    status: 'booked',
    start: '2026-04-01T16:00:00Z',
    reasonCode: [{ text: 'private' }],
    participant: [{ actor: { reference: `Patient/${cara}` }, status: 'accepted' }],
  };
  expect(scope.present(appointment)).toEqual({
    resourceType: 'Appointment',
    id: 'a1',
    status: 'booked',
    start: '2026-04-01T16:00:00Z',
    participant: [{ actor: { reference: `Patient/${cara}` }, status: 'accepted' }],
  });
  // One in the caller's own record too is also in Cara's: it shows no more than her level on Cara's shows.
  const shared = {
    ...appointment,
    participant: [...appointment.participant, { actor: { reference: `Patient/${ada}` }, status: 'accepted' as const }],
  };
  expect(scope.present(shared)).toEqual({ ...scope.present(appointment), participant: shared.participant });
  const both = { ...shared, participant: [shared.participant[1], { actor: { reference: `Patient/${ben}` }, status: 'accepted' as const }] };
  expect(scope.present(both)).toEqual(both);
  const charge: ChargeItem = {
    resourceType: 'ChargeItem',
    id: 'c1',
    status: 'billed',
    code: { text: 'Visit' },
    subject: { reference: `Patient/${cara}` },
    reason: [{ text: 'dx' }],
  };
  expect(scope.present(charge)).toEqual({
    resourceType: 'ChargeItem',
    id: 'c1',
    status: 'billed',
    code: { text: 'Visit' },
    subject: { reference: `Patient/${cara}` },
  });
  const observation: Observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' } };
  expect(scope.present(observation)).toBe(observation);
});

test('narrowForSearch: a patient whose level hides a parameter drops out of that type only', () => {
  expect(scope.narrowForSearch!('Patient', ['birthdate', 'name', '_count'])).toBe(scope);
  const byGender = scope.narrowForSearch!('Patient', ['gender']);
  expect(byGender.patients.get(cara)!.has('Patient')).toBe(false);
  expect(byGender.patients.get(cara)!.has('Invoice')).toBe(true);
  expect(byGender.patients.get(ben)).toBeUndefined();
  const bySort = scope.narrowForSearch!('Appointment', ['-reason-code']);
  expect(bySort.patients.get(cara)!.has('Appointment')).toBe(false);
  expect(scope.narrowForSearch!('Appointment', ['-date', 'status'])).toBe(scope);
  // Types a level does not see at all are already out; any parameter on them narrows to the same.
  expect(scope.narrowForSearch!('Observation', ['code']).patients.get(cara)!.has('Observation')).toBe(false);
});

test('canWrite: portal messages (billing levels too: the message rules hold them to the billing subject), never clinical data, grants, the Patient or the log', () => {
  const message: Communication = { resourceType: 'Communication', status: 'completed' };
  expect(scope.canWrite(message, [ada])).toBe(true);
  expect(scope.canWrite(message, [ada, ben])).toBe(true);
  // Cara is Ada's at billing: a message about her bill may be written (portal/messaging checks its subject).
  expect(scope.canWrite(message, [ada, cara])).toBe(true);
  expect(scope.canWrite(message, [])).toBe(false);
  expect(scope.canWrite(message)).toBe(false);
  expect(scope.canWrite({ resourceType: 'Binary', contentType: 'image/png' }, [ben])).toBe(true);
  for (const resourceType of ['Observation', 'Patient', 'Consent', 'RelatedPerson', 'AuditEvent', 'Invoice'] as const) {
    expect([resourceType, scope.canWrite({ resourceType } as never, [ada])]).toEqual([resourceType, false]);
  }
});

test('staff scope: their organisation; Patients only for it; never the log; nothing without an organisation', () => {
  const staff = staffScope('org-1', 'staff account s-1');
  expect([staff.unrestricted, staff.organizationId, staff.releasedOnly]).toEqual([false, 'org-1', undefined]);
  expect(staff.canWrite({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/org-1' } })).toBe(true);
  expect(staff.canWrite({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/org-2' } })).toBe(false);
  expect(staff.canWrite({ resourceType: 'Patient' })).toBe(false);
  expect(staff.canWrite({ resourceType: 'Observation', status: 'final', code: {} }, ['p'])).toBe(true);
  expect(staff.canWrite({ resourceType: 'AuditEvent' } as never, ['p'])).toBe(false);
  const nobody = staffScope(undefined, 'staff account s-2');
  expect([nobody.organizationId, nobody.canWrite({ resourceType: 'Observation', status: 'final', code: {} }, ['p'])]).toEqual([
    undefined,
    false,
  ]);
});

test('authorshipIssues: a portal caller answers in her own name and leaves the service’s meta as stored', () => {
  const answers = (extra: object) => ({ resourceType: 'QuestionnaireResponse', status: 'completed', ...extra }) as never;
  expect(
    scope.authorshipIssues!(answers({ author: { reference: `Patient/${ada}` }, source: { reference: 'RelatedPerson/rp-ben' } })),
  ).toEqual([]);
  expect(
    scope.authorshipIssues!(answers({ author: { reference: 'Practitioner/p1' }, source: { display: 'Mum' } })).map((i) => i.expression),
  ).toEqual(['QuestionnaireResponse.author', 'QuestionnaireResponse.source']);
  const tag = [{ code: 'triage' }];
  const message = (meta?: object) => ({ resourceType: 'Communication', status: 'preparation', ...(meta ? { meta } : {}) }) as never;
  expect(scope.authorshipIssues!(message({ tag, versionId: '1' })).map((i) => i.expression)).toEqual(['Communication.meta.tag']);
  expect(scope.authorshipIssues!(message({ tag, versionId: '2' }), message({ tag, versionId: '1' }))).toEqual([]);
  expect(scope.authorshipIssues!(message({ versionId: '2' }), message({ tag })).map((i) => i.expression)).toEqual([
    'Communication.meta.tag',
  ]);
  expect(typeof staffScope('org-1', 's').authorshipIssues).toBe('undefined');
});
