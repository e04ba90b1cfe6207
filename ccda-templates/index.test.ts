import { findSectionByLoinc, findSectionByTemplateId, SECTION_DEFINITIONS } from './index';

describe('SECTION_DEFINITIONS', () => {
  it('starts with the six sections the CCD template requires, in order', () => {
    expect(SECTION_DEFINITIONS.slice(0, 6).map((d) => d.loinc.code)).toEqual([
      '48765-2',
      '10160-0',
      '11450-4',
      '30954-2',
      '29762-2',
      '8716-3',
    ]);
  });

  it('has unique keys, templateIds and LOINC codes', () => {
    for (const pick of [
      (d: (typeof SECTION_DEFINITIONS)[number]) => d.key,
      (d: (typeof SECTION_DEFINITIONS)[number]) => d.templateId.root,
      (d: (typeof SECTION_DEFINITIONS)[number]) => d.loinc.code,
    ]) {
      const values = SECTION_DEFINITIONS.map(pick);
      expect(new Set(values).size).toBe(values.length);
    }
  });

  it('writes R1.1-compatible ids as the same root without an extension', () => {
    for (const d of SECTION_DEFINITIONS) {
      for (const t of d.compatibleTemplateIds) expect([d.key, t.root, t.extension]).toEqual([d.key, d.templateId.root, undefined]);
    }
  });
});

describe('section lookup', () => {
  it('finds a section by templateId root or LOINC code', () => {
    expect(findSectionByTemplateId('2.16.840.1.113883.10.20.22.2.6.1')?.key).toBe('allergies');
    expect(findSectionByTemplateId('2.16.840.1.113883.10.20.22.2.4.1')?.key).toBe('vitals');
    expect(findSectionByLoinc('48768-6')?.title).toBe('Insurance Providers');
    expect(findSectionByLoinc('42349-1')?.templateId).toEqual({ root: '1.3.6.1.4.1.19376.1.5.3.1.3.1', extension: '2014-06-09' });
  });

  it('returns undefined for sections Chartkeeper does not write', () => {
    expect(findSectionByTemplateId('2.16.840.1.113883.10.20.22.2.21.1')).toBeUndefined();
    expect(findSectionByLoinc('10157-6')).toBeUndefined();
  });
});
