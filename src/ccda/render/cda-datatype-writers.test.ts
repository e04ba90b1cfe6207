import {
  codableCodings,
  decimalText,
  ucumUnit,
  writeAddr,
  writeCode,
  writeIdentifier,
  writeInterval,
  writePersonName,
  writeTelecoms,
} from './cda-datatype-writers';
import { XmlWriter } from './xml-writer';

function xml(write: (w: XmlWriter) => void): string {
  const w = new XmlWriter();
  write(w);
  return w.toString();
}

describe('writeCode', () => {
  it('writes the preferred coding with an OID as the code and the others as translations', () => {
    const cc = {
      coding: [
        { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I10', display: 'Essential hypertension' },
        { system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertension' },
        { system: 'http://example.org/local', code: 'HTN' },
      ],
      text: 'High blood pressure',
    };
    expect(xml((w) => writeCode(w, 'value', cc, { xsiType: 'CD', prefer: ['http://snomed.info/sct'] }))).toBe(
      '<value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Hypertension">' +
        '<originalText>High blood pressure</originalText>' +
        '<translation code="I10" codeSystem="2.16.840.1.113883.6.90" codeSystemName="ICD-10-CM" displayName="Essential hypertension"/></value>',
    );
  });

  it('uses nullFlavor OTH when the codes have no OID, UNK when there are none, and keeps the text', () => {
    expect(xml((w) => writeCode(w, 'code', { coding: [{ system: 'http://example.org/x', code: '1' }] }))).toBe('<code nullFlavor="OTH"/>');
    expect(xml((w) => writeCode(w, 'code', { text: 'Fish oil' }))).toBe(
      '<code nullFlavor="UNK"><originalText>Fish oil</originalText></code>',
    );
    expect(xml((w) => writeCode(w, 'code', undefined, { textRef: 'row-1-name' }))).toBe(
      '<code nullFlavor="UNK"><originalText><reference value="#row-1-name"/></originalText></code>',
    );
  });

  it('adds a nullFlavor translation when a template wants one and the concept has none', () => {
    const snomedOnly = { coding: [{ system: 'http://snomed.info/sct', code: '14679004' }] };
    expect(xml((w) => writeCode(w, 'code', snomedOnly, { translationUnlessSystem: '2.16.840.1.113883.6.1' }))).toBe(
      '<code code="14679004" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT"><translation nullFlavor="UNK"/></code>',
    );
  });

  it('ranks codings by preference without losing any', () => {
    const out = codableCodings(
      {
        coding: [
          { system: 'http://loinc.org', code: 'a' },
          { system: 'http://snomed.info/sct', code: 'b' },
        ],
      },
      ['http://snomed.info/sct'],
    );
    expect(out.map((c) => c.code)).toEqual(['b', 'a']);
  });
});

describe('addresses, telecoms, names, identifiers', () => {
  it('writes a US Realm address, with nullFlavors for the required parts that are missing', () => {
    expect(xml((w) => writeAddr(w, { use: 'home', city: 'Seattle' }))).toBe(
      '<addr use="HP"><streetAddressLine nullFlavor="NI"/><city>Seattle</city><state nullFlavor="NI"/><postalCode nullFlavor="NI"/></addr>',
    );
    expect(xml((w) => writeAddr(w, undefined))).toBe('<addr nullFlavor="NI"/>');
    expect(xml((w) => writeAddr(w, { line: ['1 Rue'], city: 'Paris', country: 'FR' }))).toBe(
      '<addr><streetAddressLine>1 Rue</streetAddressLine><city>Paris</city><country>FR</country></addr>',
    );
  });

  it('writes telecoms as URLs with their use, or one nullFlavor when there are none', () => {
    expect(
      xml((w) =>
        writeTelecoms(w, [
          { system: 'phone', value: '(206) 555-0142', use: 'mobile' },
          { system: 'email', value: 'a@b.org' },
          { system: 'fax', value: '555 0199', use: 'work' },
        ]),
      ),
    ).toBe('<telecom use="MC" value="tel:(206)555-0142"/><telecom value="mailto:a@b.org"/><telecom use="WP" value="fax:5550199"/>');
    expect(xml((w) => writeTelecoms(w, []))).toBe('<telecom nullFlavor="NI"/>');
  });

  it('writes fielded names', () => {
    expect(xml((w) => writePersonName(w, { use: 'official', prefix: ['Dr.'], given: ['Grace', 'M'], family: 'Lee' }))).toBe(
      '<name use="L"><prefix>Dr.</prefix><given>Grace</given><given>M</given><family>Lee</family></name>',
    );
    expect(xml((w) => writePersonName(w, { text: 'Cher' }))).toBe('<name><given>Cher</given><family nullFlavor="UNK"/></name>');
  });

  it('writes identifiers whose system has an OID, and skips the others', () => {
    expect(xml((w) => writeIdentifier(w, 'id', { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }))).toBe(
      '<id root="2.16.840.1.113883.4.6" extension="1234567893"/>',
    );
    expect(
      xml((w) => writeIdentifier(w, 'id', { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:6f1c7a55-7d0e-4a4e-9a55-1b5d4c1c0abc' })),
    ).toBe('<id root="6F1C7A55-7D0E-4A4E-9A55-1B5D4C1C0ABC"/>');
    expect(xml((w) => writeIdentifier(w, 'id', { system: 'https://github.com/synthetichealth/synthea', value: 'x' }))).toBe('');
  });
});

describe('times and quantities', () => {
  it('writes intervals with the precision of each end', () => {
    expect(xml((w) => writeInterval(w, 'effectiveTime', '2024-03', '2024-03-15T10:00:00-07:00', { xsiType: true }))).toBe(
      '<effectiveTime xsi:type="IVL_TS"><low value="202403"/><high value="20240315100000-0700"/></effectiveTime>',
    );
    expect(xml((w) => writeInterval(w, 'effectiveTime', undefined, undefined, { highNullFlavor: 'UNK' }))).toBe(
      '<effectiveTime><low nullFlavor="UNK"/><high nullFlavor="UNK"/></effectiveTime>',
    );
  });

  it('keeps UCUM units and wraps other units as UCUM annotations', () => {
    expect(ucumUnit({ value: 1, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' })).toBe('mm[Hg]');
    expect(ucumUnit({ value: 1, unit: 'beats/minute' })).toBe('{beats/minute}');
    expect(ucumUnit({ value: 1, unit: 'µg {x}' })).toBe('{gx}');
    expect(ucumUnit({ value: 1 })).toBe('1');
  });

  it('writes decimals without exponents', () => {
    expect(decimalText(122.57807527770422)).toBe('122.57807527770422');
    expect(decimalText(0.00000125)).toBe('0.00000125');
    expect(decimalText(1e21)).toBe('1000000000000000000000');
  });
});
