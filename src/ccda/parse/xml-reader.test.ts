import { CcdaParseError } from './ccda-parse-error';
import { parseCcda } from './parse-ccda';
import { readCdaXml } from './xml-reader';
import { attr, tagOf, textOf } from './xml-node';

const MINIMAL = '<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3"/><component><structuredBody/></component></ClinicalDocument>';

function parseError(xml: string | Buffer, options = {}): CcdaParseError {
  try {
    readCdaXml(xml, options);
  } catch (err) {
    if (err instanceof CcdaParseError) return err;
    throw err;
  }
  throw new Error('expected a CcdaParseError');
}

describe('readCdaXml: safe parsing', () => {
  it('refuses a DOCTYPE (and so any entity definition) with its position', () => {
    const err = parseError(
      '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]>\n<ClinicalDocument xmlns="urn:hl7-org:v3">&a;</ClinicalDocument>',
    );
    expect(err.code).toBe('dtd-refused');
    expect([err.line, err.column]).toEqual([2, 1]);
  });

  it('reports a mismatched end tag with line and column', () => {
    const err = parseError('<ClinicalDocument xmlns="urn:hl7-org:v3">\n  <title>x</titel>\n</ClinicalDocument>');
    expect(err.code).toBe('malformed');
    expect(err.message).toBe('End tag </titel> does not close <title> (line 2, column 11)');
    expect([err.line, err.column]).toEqual([2, 11]);
  });

  it('reports a truncated document at the element left open', () => {
    const err = parseError('<ClinicalDocument xmlns="urn:hl7-org:v3">\n<component>\n<section>');
    expect(err.message).toBe('Element <section> is never closed (line 3, column 1)');
  });

  it('reports a stray < in text', () => {
    const err = parseError('<ClinicalDocument xmlns="urn:hl7-org:v3"><title>a < b</title></ClinicalDocument>');
    expect([err.code, err.line, err.column]).toEqual(['malformed', 1, 51]);
  });

  it('enforces the size limit (default 20 MB, configurable)', () => {
    expect(parseError(MINIMAL, { maxBytes: 50 }).message).toBe(`The document is ${MINIMAL.length} bytes; the limit is 50`);
    expect(parseError(MINIMAL, { maxBytes: 50 }).code).toBe('too-large');
  });

  it('enforces the depth limit', () => {
    const deep = `<ClinicalDocument xmlns="urn:hl7-org:v3">${'<a>'.repeat(20)}${'</a>'.repeat(20)}</ClinicalDocument>`;
    expect(parseError(deep, { maxDepth: 10 }).code).toBe('too-deep');
    expect(() => readCdaXml(deep, { maxDepth: 30 })).not.toThrow();
  });

  it('enforces the attribute-count limit', () => {
    const attrs = Array.from({ length: 40 }, (_, i) => ` a${i}="v"`).join('');
    expect(parseError(`<ClinicalDocument xmlns="urn:hl7-org:v3"><x${attrs}/></ClinicalDocument>`, { maxAttributes: 32 }).code).toBe(
      'too-many-attributes',
    );
  });

  it('refuses documents that are not a CDA ClinicalDocument', () => {
    expect(parseError('<Bundle xmlns="http://hl7.org/fhir"/>').code).toBe('not-cda');
    expect(parseError('<ClinicalDocument/>').code).toBe('not-cda');
  });

  it('leaves undefined entities as written and decodes the XML ones', () => {
    const result = parseCcda(
      '<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3"/><title>A &amp; B &#169; &nbsp;</title><component><structuredBody/></component></ClinicalDocument>',
    );
    expect(result.document.title).toBe('A & B © &nbsp;');
  });

  it('reads UTF-16 and BOM-prefixed UTF-8 buffers', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(MINIMAL, 'utf16le')]);
    expect(tagOf(readCdaXml(utf16).root)).toBe('ClinicalDocument');
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(MINIMAL)]);
    expect(tagOf(readCdaXml(bom).root)).toBe('ClinicalDocument');
  });

  it('reads attribute values as written: either quotes, spaced =, entities, > inside, last of a repeated name', () => {
    const xml = `<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="1" \t codeSystem = '2.16' displayName=" a > b &amp; c\r\n d " code="2"/><title>t</title></ClinicalDocument>`;
    const [code, title] = readCdaXml(xml).root.kids;
    expect([attr(code, 'code'), attr(code, 'codeSystem'), attr(code, 'displayName'), attr(code, 'nullFlavor')]).toEqual([
      '2',
      '2.16',
      'a > b & c\n d',
      undefined,
    ]);
    expect(textOf(title)).toBe('t');
  });

  it('keeps text as the parser reads it: trimmed, joined across comments, split by instructions, CDATA as written', () => {
    const texts = (xml: string): (string | undefined)[][] => readCdaXml(xml).root.kids.map((kid) => kid.kids.map((t) => t.text));
    expect(
      texts('<ClinicalDocument xmlns="urn:hl7-org:v3"><title>  A &amp; <!-- c --> B\r\n </title><name>x<?pi?>y</name></ClinicalDocument>'),
    ).toEqual([['A &amp;  B'], ['x', 'y']]);
    expect(texts('<ClinicalDocument xmlns="urn:hl7-org:v3"><title> <![CDATA[ a<b ]]> z </title></ClinicalDocument>')).toEqual([
      [' a<b ', 'z'],
    ]);
  });

  it('cuts section narrative out of the tree and keeps it raw, in order', () => {
    const xml =
      '<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody><component><section><text><b>one</b></text></section></component><component><section><text/></section></component><component><section><text>three</text></section></component></structuredBody></component></ClinicalDocument>';
    expect(readCdaXml(xml).narratives).toEqual(['<b>one</b>', '', 'three']);
  });
});
