import type { Account, Appointment, ChargeItem, Condition, Coverage, Patient } from '@medplum/fhirtypes';
import { levelAtLeast, levelSeesResourceType, maxLevel, minLevel, resourceTypesForLevel } from './access-level';
import { billingChargeItem, minimalAppointment, minimalPatient, searchParamAllowedAt, viewForLevel } from './reduced-view';

const patient: Patient = {
  resourceType: 'Patient',
  id: 'cara',
  meta: {
    versionId: '3',
    lastUpdated: '2026-11-01T10:00:00Z',
    security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'PSY' }],
    tag: [{ code: 'x' }],
  },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Cara Park, 15, asthma</div>' },
  identifier: [{ system: 'urn:mrn', value: 'MRN-2' }],
  name: [{ use: 'official', family: 'Park', given: ['Cara'] }],
  gender: 'female',
  birthDate: '2011-08-19',
  telecom: [{ system: 'email', value: 'cara.park@example.com' }],
  address: [{ postalCode: '10601' }],
  extension: [{ url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race', valueString: 'x' }],
  generalPractitioner: [{ reference: 'Practitioner/maya' }],
};

const appointment: Appointment = {
  resourceType: 'Appointment',
  id: 'a1',
  meta: { versionId: '1', lastUpdated: '2026-11-02T10:00:00Z', security: [{ code: 'R' }] },
  status: 'booked',
  serviceType: [{ text: 'Office visit' }],
  reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '35489007', display: 'Depressive disorder' }] }],
  reasonReference: [{ reference: 'Condition/c1' }],
  description: 'Follow-up for depression',
  comment: 'Bring medication list',
  patientInstruction: 'Fasting',
  supportingInformation: [{ reference: 'Observation/o1' }],
  basedOn: [{ reference: 'ServiceRequest/s1' }],
  start: '2026-12-01T15:00:00Z',
  end: '2026-12-01T15:30:00Z',
  minutesDuration: 30,
  participant: [
    { actor: { reference: 'Patient/cara', display: 'Cara Park' }, status: 'accepted' },
    { actor: { reference: 'Practitioner/maya', display: 'Dr. Maya Chen' }, status: 'accepted', required: 'required' },
  ],
};

const chargeItem: ChargeItem = {
  resourceType: 'ChargeItem',
  id: 'ch1',
  meta: { versionId: '2', lastUpdated: '2026-11-03T10:00:00Z' },
  status: 'billable',
  code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '99213' }] },
  subject: { reference: 'Patient/cara' },
  account: [{ reference: 'Account/acc1' }],
  reason: [{ coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'F32.9' }] }],
  bodysite: [{ text: 'Left breast' }],
  note: [{ text: 'Psych eval' }],
  service: [{ reference: 'Procedure/p1' }],
  supportingInformation: [{ reference: 'DiagnosticReport/d1' }],
  priceOverride: { value: 120, currency: 'USD' },
};

describe('access levels', () => {
  test('ordering', () => {
    expect(minLevel('full', 'billing')).toBe('billing');
    expect(minLevel('billing+appointments', 'full')).toBe('billing+appointments');
    expect(minLevel('billing', 'billing+appointments')).toBe('billing');
    expect(minLevel('none', 'full')).toBe('none');
    expect(maxLevel('billing', 'full')).toBe('full');
    expect(maxLevel('billing+appointments', 'billing')).toBe('billing+appointments');
    expect(maxLevel('none', 'none')).toBe('none');
    expect(levelAtLeast('billing+appointments', 'billing')).toBe(true);
    expect(levelAtLeast('billing', 'billing+appointments')).toBe(false);
  });

  test('resource types per level', () => {
    expect(resourceTypesForLevel('full')).toBe('all');
    expect([...(resourceTypesForLevel('billing') as Set<string>)]).toEqual([
      'Patient',
      'Account',
      'Invoice',
      'ChargeItem',
      'Coverage',
      'PaymentReconciliation',
      'PaymentNotice',
    ]);
    expect([...(resourceTypesForLevel('billing+appointments') as Set<string>)]).toEqual([
      'Patient',
      'Account',
      'Invoice',
      'ChargeItem',
      'Coverage',
      'PaymentReconciliation',
      'PaymentNotice',
      'Appointment',
    ]);
    expect((resourceTypesForLevel('none') as Set<string>).size).toBe(0);
    const types = [
      'Patient',
      'Account',
      'Invoice',
      'ChargeItem',
      'Coverage',
      'Appointment',
      'Observation',
      'Communication',
      'DocumentReference',
      'Binary',
    ];
    expect(types.filter((t) => levelSeesResourceType('billing', t))).toEqual(['Patient', 'Account', 'Invoice', 'ChargeItem', 'Coverage']);
    expect(types.filter((t) => levelSeesResourceType('billing+appointments', t))).toEqual([
      'Patient',
      'Account',
      'Invoice',
      'ChargeItem',
      'Coverage',
      'Appointment',
    ]);
    expect(types.filter((t) => levelSeesResourceType('full', t))).toEqual(types);
    expect(types.filter((t) => levelSeesResourceType('none', t))).toEqual([]);
  });
});

describe('reduced views', () => {
  test('minimalPatient keeps id, version, name and birth date only', () => {
    expect(minimalPatient(patient)).toEqual({
      resourceType: 'Patient',
      id: 'cara',
      meta: { versionId: '3', lastUpdated: '2026-11-01T10:00:00Z' },
      name: [{ use: 'official', family: 'Park', given: ['Cara'] }],
      birthDate: '2011-08-19',
    });
    expect(JSON.stringify(minimalPatient(patient))).not.toContain('asthma');
  });

  test('minimalPatient copies: changing the view does not change the stored resource', () => {
    const view = minimalPatient(patient);
    view.name?.[0].given?.push('X');
    expect(patient.name?.[0].given).toEqual(['Cara']);
    expect(minimalPatient({ resourceType: 'Patient' })).toEqual({ resourceType: 'Patient' });
  });

  test('minimalAppointment drops reasons, notes and instructions', () => {
    expect(minimalAppointment(appointment)).toEqual({
      resourceType: 'Appointment',
      id: 'a1',
      meta: { versionId: '1', lastUpdated: '2026-11-02T10:00:00Z' },
      status: 'booked',
      serviceType: [{ text: 'Office visit' }],
      start: '2026-12-01T15:00:00Z',
      end: '2026-12-01T15:30:00Z',
      minutesDuration: 30,
      participant: [
        { actor: { reference: 'Patient/cara', display: 'Cara Park' }, status: 'accepted' },
        { actor: { reference: 'Practitioner/maya', display: 'Dr. Maya Chen' }, status: 'accepted', required: 'required' },
      ],
    });
  });

  test('billingChargeItem keeps what a statement shows', () => {
    expect(billingChargeItem(chargeItem)).toEqual({
      resourceType: 'ChargeItem',
      id: 'ch1',
      meta: { versionId: '2', lastUpdated: '2026-11-03T10:00:00Z' },
      status: 'billable',
      code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '99213' }] },
      subject: { reference: 'Patient/cara' },
      account: [{ reference: 'Account/acc1' }],
      priceOverride: { value: 120, currency: 'USD' },
    });
    expect(chargeItem.reason).toHaveLength(1);
  });

  test('viewForLevel per level', () => {
    const condition: Condition = { resourceType: 'Condition', id: 'c1', subject: { reference: 'Patient/cara' } };
    const account: Account = { resourceType: 'Account', id: 'acc1', status: 'active' };
    const coverage: Coverage = {
      resourceType: 'Coverage',
      id: 'cov1',
      status: 'active',
      beneficiary: { reference: 'Patient/cara' },
      payor: [{ display: 'Acme' }],
    };
    expect(viewForLevel('full', patient)).toBe(patient);
    expect(viewForLevel('full', condition)).toBe(condition);
    expect(viewForLevel('billing', patient)).toEqual(minimalPatient(patient));
    expect(viewForLevel('billing', condition)).toBeUndefined();
    expect(viewForLevel('billing', appointment)).toBeUndefined();
    expect(viewForLevel('billing', account)).toBe(account);
    expect(viewForLevel('billing', coverage)).toBe(coverage);
    expect(viewForLevel('billing', chargeItem)).toEqual(billingChargeItem(chargeItem));
    expect(viewForLevel('billing+appointments', appointment)).toEqual(minimalAppointment(appointment));
    expect(viewForLevel('billing+appointments', condition)).toBeUndefined();
    expect(viewForLevel('none', patient)).toBeUndefined();
    expect(viewForLevel('none', account)).toBeUndefined();
  });
});

describe('searchParamAllowedAt', () => {
  test('reduced types only filter on the fields the caller sees', () => {
    expect(searchParamAllowedAt('billing', 'Patient', 'name')).toBe(true);
    expect(searchParamAllowedAt('billing', 'Patient', 'family:exact')).toBe(true);
    expect(searchParamAllowedAt('billing', 'Patient', 'gender')).toBe(false);
    expect(searchParamAllowedAt('billing', 'Patient', 'address-postalcode')).toBe(false);
    expect(searchParamAllowedAt('billing', 'Patient', '_count')).toBe(true);
    expect(searchParamAllowedAt('billing', 'Patient', '_sort')).toBe(false);
    expect(searchParamAllowedAt('billing', 'Patient', '-birthdate')).toBe(true);
    expect(searchParamAllowedAt('billing', 'ChargeItem', 'code')).toBe(true);
    expect(searchParamAllowedAt('billing', 'ChargeItem', 'reason')).toBe(false);
    expect(searchParamAllowedAt('billing+appointments', 'Appointment', 'date')).toBe(true);
    expect(searchParamAllowedAt('billing+appointments', 'Appointment', 'reason-code')).toBe(false);
    expect(searchParamAllowedAt('billing', 'Appointment', 'date')).toBe(false);
  });

  test('unreduced billing types allow any parameter; hidden types none; full everything', () => {
    expect(searchParamAllowedAt('billing', 'Account', 'name')).toBe(true);
    expect(searchParamAllowedAt('billing', 'Observation', 'code')).toBe(false);
    expect(searchParamAllowedAt('none', 'Patient', 'name')).toBe(false);
    expect(searchParamAllowedAt('full', 'Patient', 'gender')).toBe(true);
  });
});
