import { displayDateTime, hl7Now, toHl7Ts } from './hl7-time';

describe('toHl7Ts', () => {
  it('keeps the precision of the FHIR value', () => {
    expect(toHl7Ts('2011')).toBe('2011');
    expect(toHl7Ts('2011-08')).toBe('201108');
    expect(toHl7Ts('2011-08-05')).toBe('20110805');
  });

  it('keeps the time zone as written', () => {
    expect(toHl7Ts('2011-08-05T09:24:03+00:00')).toBe('20110805092403+0000');
    expect(toHl7Ts('2011-08-05T09:24:03-07:00')).toBe('20110805092403-0700');
    expect(toHl7Ts('2011-08-05T09:24:03Z')).toBe('20110805092403+0000');
  });

  it('keeps fractional seconds', () => {
    expect(toHl7Ts('2015-08-28T09:24:03.908+02:00')).toBe('20150828092403.908+0200');
  });

  it('returns undefined for what is not a FHIR date', () => {
    expect(toHl7Ts(undefined)).toBeUndefined();
    expect(toHl7Ts('last Tuesday')).toBeUndefined();
    expect(toHl7Ts('2011-8-5')).toBeUndefined();
  });
});

describe('hl7Now and displayDateTime', () => {
  it('formats the document time in UTC to the second', () => {
    expect(hl7Now(new Date('2026-11-21T12:34:56.789Z'))).toBe('20261121123456+0000');
  });

  it('shows FHIR times readably without converting them', () => {
    expect(displayDateTime('2011-08-05T09:24:03-07:00')).toBe('2011-08-05 09:24:03 -07:00');
    expect(displayDateTime('2011-08-05')).toBe('2011-08-05');
    expect(displayDateTime('2011-08-05T09:24:03Z')).toBe('2011-08-05 09:24:03 UTC');
  });
});
