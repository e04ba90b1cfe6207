import { parseQueryString, queryValues } from './query-string';

describe('parseQueryString', () => {
  it('keeps every repetition of a name as text, however many', () => {
    const text = Array.from({ length: 25 }, (_, i) => `code=c${i}`).join('&');
    const query = parseQueryString(`${text}&_count=5`);
    expect(query.code).toEqual(Array.from({ length: 25 }, (_, i) => `c${i}`));
    expect(query._count).toBe('5');
  });

  it('decodes as URLSearchParams does, and reads brackets and inherited names as plain names', () => {
    const query = parseQueryString('name%5B0%5D=a+b&email[a]=x&__proto__=p&constructor=c&empty=&flag');
    expect(Object.entries(query)).toEqual([
      ['name[0]', 'a b'],
      ['email[a]', 'x'],
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['empty', ''],
      ['flag', ''],
    ]);
    expect(Object.getPrototypeOf(query)).toBeNull();
  });

  it('answers an empty query for no query string', () => {
    for (const text of [undefined, null, '']) expect(Object.entries(parseQueryString(text))).toEqual([]);
  });

  it('queryValues lists a name’s values, none when absent (an inherited name included)', () => {
    const query = parseQueryString('a=1&a=2&b=3');
    expect([queryValues(query, 'a'), queryValues(query, 'b'), queryValues(query, 'c')]).toEqual([['1', '2'], ['3'], []]);
    expect(queryValues({}, 'toString')).toEqual([]);
  });
});
