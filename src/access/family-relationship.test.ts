import { familyRelationshipOf } from './family-relationship';

const roleCode = (code: string) => [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code }] }];

describe('familyRelationshipOf', () => {
  test.each(['MTH', 'FTH', 'PRN', 'NMTH', 'ADOPTM', 'GUARD'])('v3 RoleCode %s is a guardian', (code) => {
    expect(familyRelationshipOf(roleCode(code))).toBe('guardian');
  });

  test.each(['DOMPART', 'STPMTH', 'MTHFOST', 'GRMTH', 'SIS', 'FRND'])('v3 RoleCode %s is other', (code) => {
    expect(familyRelationshipOf(roleCode(code))).toBe('other');
  });

  test('RoleClass GUARD counts; a guardian code in another system does not; any of several codings', () => {
    expect(familyRelationshipOf([{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass', code: 'GUARD' }] }])).toBe(
      'guardian',
    );
    expect(familyRelationshipOf([{ coding: [{ system: 'http://example.org/local', code: 'MTH' }] }])).toBe('other');
    expect(
      familyRelationshipOf([{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: 'N' }] }, ...roleCode('MTH')]),
    ).toBe('guardian');
    expect(familyRelationshipOf([{ text: 'mother' }])).toBe('other');
    expect(familyRelationshipOf(undefined)).toBe('other');
  });
});
