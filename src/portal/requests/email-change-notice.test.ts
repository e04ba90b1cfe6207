import type { Patient } from '@medplum/fhirtypes';
import { replacedEmails } from './email-change-notice';

const patient = (...emails: string[]): Patient => ({
  resourceType: 'Patient',
  telecom: [{ system: 'phone', value: '206-555-0100' }, ...emails.map((value) => ({ system: 'email' as const, value }))],
});

describe('replacedEmails', () => {
  test('the addresses the change removes, lower case, whatever the letters or spaces they were written in', () => {
    expect(replacedEmails(patient('new@example.com'), patient(' Old@Example.com'))).toEqual(['old@example.com']);
    expect(replacedEmails(patient('OLD@example.com'), patient('old@example.com'))).toEqual([]);
    expect(replacedEmails(patient('a@example.com'), patient('a@example.com', 'b@example.com'))).toEqual(['b@example.com']);
    expect(replacedEmails(patient(), patient('gone@example.com'))).toEqual(['gone@example.com']);
    expect(replacedEmails(patient('added@example.com'), patient())).toEqual([]);
  });

  test('only a Patient replacing a Patient; no address that is not one; at most five per change', () => {
    expect(replacedEmails(patient(), undefined)).toEqual([]);
    expect(replacedEmails({ resourceType: 'RelatedPerson', patient: {} }, patient('x@example.com'))).toEqual([]);
    expect(replacedEmails(patient(), patient('not an address', 'a@b', 'two@example.com, three@example.com'))).toEqual([]);
    const many = Array.from({ length: 8 }, (_, i) => `p${i}@example.com`);
    expect(replacedEmails(patient(), patient(...many))).toEqual(many.slice(0, 5));
  });
});
