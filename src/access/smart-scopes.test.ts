import type { Resource } from '@medplum/fhirtypes';
import { portalScope, staffScope } from './portal-scope';
import { narrowBySmartScopes, parseResourceScope, resourceScopesIn } from './smart-scopes';

const LAB = 'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory';

const ada = portalScope(
  [
    { patientId: 'ada', level: 'full', self: true },
    { patientId: 'ben', level: 'full', self: false, relatedPersonId: 'rp-ben' },
    { patientId: 'cara', level: 'billing', self: false, relatedPersonId: 'rp-cara' },
  ],
  'ada',
);

describe('SMART scopes', () => {
  it('parses v2 and v1 scopes, and refuses what is not one', () => {
    expect(parseResourceScope('patient/Observation.rs')).toMatchObject({
      context: 'patient',
      type: 'Observation',
      read: true,
      write: false,
    });
    expect(parseResourceScope('user/*.cruds')).toMatchObject({ context: 'user', type: '*', read: true, write: true });
    expect(parseResourceScope('patient/*.read')).toMatchObject({ read: true, write: false });
    expect(parseResourceScope('system/Patient.write')).toMatchObject({ read: false, write: true });
    expect(parseResourceScope('patient/*.sr')).toBeUndefined(); // v2 letters are in order c r u d s
    expect(parseResourceScope('admin/*.rs?category=laboratory')).toBeUndefined();
    expect(parseResourceScope('admin/*.rs')).toBeUndefined();
    expect(resourceScopesIn('openid patient/*.rs fhirUser').map((s) => s.text)).toEqual(['patient/*.rs']);
  });

  it('patient/ scopes open the launch patient’s record only, at no more than the account holds', () => {
    const scope = narrowBySmartScopes(ada, { scopes: resourceScopesIn('patient/*.rs'), patientId: 'ben' });
    expect([...scope.patients.keys()]).toEqual(['ben']);
    expect(scope.patients.get('ben')).toBeUndefined(); // every type, as Ada holds Ben at full
    const cara = narrowBySmartScopes(ada, { scopes: resourceScopesIn('patient/*.rs'), patientId: 'cara' });
    expect([...(cara.patients.get('cara') ?? [])]).not.toContain('Condition'); // billing stays billing
  });

  it('patient/ scopes without a launch patient give nothing', () => {
    const scope = narrowBySmartScopes(ada, { scopes: resourceScopesIn('patient/*.rs') });
    expect(scope.patients.size).toBe(0);
    expect(scope.sharedTypes.size).toBe(0);
  });

  it('a type scope narrows every record to that type, shared types included', () => {
    const scope = narrowBySmartScopes(ada, { scopes: resourceScopesIn('user/Observation.rs') });
    expect([...(scope.patients.get('ada') ?? [])]).toEqual(['Observation']);
    expect(scope.patients.has('cara')).toBe(false); // billing shows no Observation
    expect(scope.sharedTypes.has('Practitioner')).toBe(false);
  });

  it('writes need c, u or d on the type, and what the account may write besides', () => {
    const message = { resourceType: 'Communication', status: 'preparation', subject: { reference: 'Patient/ada' } } as Resource;
    expect(narrowBySmartScopes(ada, { scopes: resourceScopesIn('user/*.rs') }).canWrite(message, ['ada'])).toBe(false);
    expect(narrowBySmartScopes(ada, { scopes: resourceScopesIn('user/Communication.cruds') }).canWrite(message, ['ada'])).toBe(
      ada.canWrite(message, ['ada']),
    );
  });

  it('staff of an organisation see only the types their scopes name', () => {
    const staff = narrowBySmartScopes(staffScope('org1', 'staff'), { scopes: resourceScopesIn('user/Observation.rs') });
    expect(staff.allowedTypes && [...staff.allowedTypes]).toEqual(['Observation']);
    const all = narrowBySmartScopes(staffScope('org1', 'staff'), { scopes: resourceScopesIn('user/*.rs') });
    expect(all.allowedTypes).toBeUndefined();
  });

  it('parses v2 scopes with query parameters as tokens, and refuses queries it cannot read', () => {
    expect(parseResourceScope(LAB)).toMatchObject({
      context: 'patient',
      type: 'Observation',
      read: true,
      write: false,
      query: [{ name: 'category', values: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    });
    expect(parseResourceScope('user/Condition.rs?category=problem-list-item,health-concern&clinical-status=|active')?.query).toEqual([
      { name: 'category', values: [{ code: 'problem-list-item' }, { code: 'health-concern' }] },
      { name: 'clinical-status', values: [{ system: '', code: 'active' }] },
    ]);
    expect(parseResourceScope('user/Observation.rs?code=http://loinc.org|')?.query).toEqual([
      { name: 'code', values: [{ system: 'http://loinc.org' }] },
    ]);
    for (const refused of [
      'patient/*.rs?category=laboratory', // a query names one type
      'patient/Observation.read?category=laboratory', // v2 only
      'patient/Observation.rs?', // nothing asked
      'patient/Observation.rs?category=', // no value
      'patient/Observation.rs?category:not=laboratory', // no modifiers
      'patient/Observation.rs?_id=1', // no result parameters
      `patient/Observation.rs?category=${'x'.repeat(600)}`, // too long
      'patient/Observation.rs?a=1&b=2&c=3&d=4&e=5', // too many
    ])
      expect(parseResourceScope(refused)).toBeUndefined();
  });

  it('a patient/ scope with a query filters the type in the launch patient’s record only, and writes nothing', () => {
    const scope = narrowBySmartScopes(ada, { scopes: resourceScopesIn(`${LAB} patient/Immunization.rs`), patientId: 'ben' });
    expect([...(scope.patients.get('ben') ?? [])].sort()).toEqual(['Immunization', 'Observation']);
    expect(scope.resourceFilters?.get('Observation')).toEqual([{ patientId: 'ben', query: parseResourceScope(LAB)?.query }]);
    expect(scope.resourceFilters?.has('Immunization')).toBe(false);
    const lab = { resourceType: 'Observation', status: 'final', code: {}, subject: { reference: 'Patient/ben' } } as Resource;
    expect(
      narrowBySmartScopes(ada, { scopes: resourceScopesIn(LAB.replace('.rs?', '.cruds?')), patientId: 'ben' }).canWrite(lab, ['ben']),
    ).toBe(false);
  });

  it('a scope without a query of the same context lifts the filter; queries of a narrower context never widen', () => {
    const lifted = narrowBySmartScopes(ada, { scopes: resourceScopesIn(`${LAB} patient/Observation.rs`), patientId: 'ben' });
    expect(lifted.resourceFilters?.get('Observation')).toEqual([{ patientId: 'ben', query: [] }]);
    const userWide = narrowBySmartScopes(ada, { scopes: resourceScopesIn(`${LAB} user/Observation.rs`), patientId: 'ben' });
    expect(userWide.resourceFilters).toBeUndefined();
    // A user/ query plus an unfiltered patient/ scope: the launch patient's Observations all, others' filtered only.
    const mixed = narrowBySmartScopes(ada, {
      scopes: resourceScopesIn('user/Observation.rs?category=vital-signs patient/Observation.rs'),
      patientId: 'ben',
    });
    expect(mixed.resourceFilters?.get('Observation')).toEqual([
      { query: [{ name: 'category', values: [{ code: 'vital-signs' }] }] },
      { patientId: 'ben', query: [] },
    ]);
  });

  it('staff launched for a patient see that patient’s record at the patient/ types, and the organisation at the user/ ones', () => {
    const staff = narrowBySmartScopes(staffScope('org1', 'staff'), {
      scopes: resourceScopesIn('patient/*.rs user/Practitioner.rs'),
      patientId: 'ben',
    });
    expect([...staff.patients]).toEqual([['ben', undefined]]);
    expect(staff.allowedTypes && [...staff.allowedTypes]).toEqual(['Practitioner']);
    expect(staff.organizationId).toBe('org1');
    const none = narrowBySmartScopes(staffScope('org1', 'staff'), { scopes: resourceScopesIn('patient/*.rs') });
    expect(none.patients.size).toBe(0);
    expect(none.allowedTypes?.size).toBe(0);
  });
});
