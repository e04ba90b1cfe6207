import type { Resource } from '@medplum/fhirtypes';
import { portalScope, staffScope } from './portal-scope';
import { narrowBySmartScopes, parseResourceScope, resourceScopesIn } from './smart-scopes';

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
    expect(parseResourceScope('patient/Observation.rs?category=laboratory')).toBeUndefined();
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
});
