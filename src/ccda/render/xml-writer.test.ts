import { escapeXml, XmlWriter } from './xml-writer';

describe('escapeXml', () => {
  it('escapes markup characters and quotes', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });

  it('drops characters XML 1.0 cannot carry and keeps tabs and newlines', () => {
    expect(escapeXml('a\u0000b\u0007c\td\ne\u001F')).toBe('abc\td\ne');
  });

  it('returns plain text unchanged', () => {
    expect(escapeXml('Hemoglobin A1c 7.2 %')).toBe('Hemoglobin A1c 7.2 %');
  });
});

describe('XmlWriter', () => {
  it('writes elements in order, escaping attributes and text, skipping empty attributes', () => {
    const w = new XmlWriter();
    w.open('a', { x: '1 & 2', skip: undefined, empty: '' }).element('b', '<hi>').empty('c', { n: 3 }).close('a');
    expect(w.toString()).toBe('<a x="1 &amp; 2"><b>&lt;hi&gt;</b><c n="3"/></a>');
  });
});
