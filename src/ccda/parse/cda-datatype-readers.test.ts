import { dateTime, identifier, isValidNpi } from './cda-datatype-readers';
import { XNode } from './xml-node';

const warnings: string[] = [];
const ctx = { lookupNarrative: () => undefined, warn: (m: string) => void warnings.push(m) };

describe('HL7 timestamps to FHIR dateTime', () => {
  it.each([
    ['2014', '2014'],
    ['201401', '2014-01'],
    ['20140102', '2014-01-02'],
    ['20140102103000-0500', '2014-01-02T10:30:00-05:00'],
    ['201401021030-0500', '2014-01-02T10:30:00-05:00'],
    ['20140102103000.123+0130', '2014-01-02T10:30:00.123+01:30'],
    ['2014010210+0000', '2014-01-02T10:00:00+00:00'],
  ])('%s -> %s', (input, expected) => {
    expect(dateTime(input, ctx)).toBe(expected);
  });

  it('keeps only the date of a time without a zone (FHIR requires one) and says so', () => {
    warnings.length = 0;
    expect(dateTime('20140102103000', ctx)).toBe('2014-01-02');
    expect(warnings).toEqual(['Timestamps with a time but no time zone were kept as dates (FHIR needs a zone with a time)']);
  });

  it('ignores unreadable timestamps with a warning', () => {
    warnings.length = 0;
    expect(dateTime('0', ctx)).toBeUndefined();
    expect(warnings).toEqual(['Unreadable timestamp "0" ignored']);
  });
});

describe('CDA ids to FHIR identifiers', () => {
  const id = (attrs: Record<string, string>): XNode => new XNode('id', [], attrs);
  it('root + extension: urn:oid system', () => {
    expect(identifier(id({ root: '2.16.840.1.113883.19.5', extension: 'MRN-1' }))).toEqual({
      system: 'urn:oid:2.16.840.1.113883.19.5',
      value: 'MRN-1',
    });
  });
  it('a bare UUID root is a urn:uuid value', () => {
    expect(identifier(id({ root: 'AB1791B0-5C71-11DB-B0DE-0800200C9A66' }))).toEqual({
      system: 'urn:ietf:rfc:3986',
      value: 'urn:uuid:ab1791b0-5c71-11db-b0de-0800200c9a66',
    });
  });
  it('NPI maps to the us-npi system; nullFlavor ids are dropped', () => {
    expect(identifier(id({ root: '2.16.840.1.113883.4.6', extension: '1234567893' }))).toEqual({
      system: 'http://hl7.org/fhir/sid/us-npi',
      value: '1234567893',
    });
    expect(identifier(id({ nullFlavor: 'NI' }))).toBeUndefined();
  });
  it('placeholder extensions identify nobody: null-flavor words, no letter or digit, one character repeated, a failed NPI', () => {
    for (const extension of ['UNK', 'unknown', 'N/A', '-', '0000', '99999999', '555555555']) {
      expect(identifier(id({ root: '2.16.840.1.113883.19.5', extension }))).toBeUndefined();
    }
    // Short ids are ids in their namespace ('0' and '9' are real entry ids in vendor documents).
    expect(identifier(id({ root: '1.3.6.1.4.1.22812.4.111.0', extension: '0' }))).toEqual({
      system: 'urn:oid:1.3.6.1.4.1.22812.4.111.0',
      value: '0',
    });
    for (const extension of ['UNK', '99999999', '999999943252', '1234567890', 'PseudoMD-1']) {
      expect(identifier(id({ root: '2.16.840.1.113883.4.6', extension }))).toBeUndefined();
    }
  });
  it('an NPI is ten digits with a Luhn check digit over the 80840 prefix', () => {
    expect(['1234567893', '5860476014', '1245319599'].map(isValidNpi)).toEqual([true, true, true]);
    expect(['1234567890', '123456789', '12345678930', '123456789A'].map(isValidNpi)).toEqual([false, false, false, false]);
  });
  it('a root alone identifies, unless it is a well-known namespace with its value left out (an NPI-less practitioner)', () => {
    expect(identifier(id({ root: '2.16.840.1.113883.19.5.99999.1' }))).toEqual({
      system: 'urn:ietf:rfc:3986',
      value: 'urn:oid:2.16.840.1.113883.19.5.99999.1',
    });
    expect(identifier(id({ root: '2.16.840.1.113883.4.6' }))).toBeUndefined();
    expect(identifier(id({ root: '2.16.840.1.113883.4.1' }))).toBeUndefined();
  });
});
