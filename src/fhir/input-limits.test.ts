import type { OperationOutcome } from '@medplum/fhirtypes';
import { checkJsonInput, checkText, MAX_JSON_DEPTH } from './input-limits';

/** The OperationOutcome checkJsonInput throws for `json`, or undefined when it takes it. */
function refusal(json: unknown): OperationOutcome | undefined {
  try {
    checkJsonInput(json);
    return undefined;
  } catch (err) {
    expect((err as { status: number }).status).toBe(400);
    return (err as { outcome: OperationOutcome }).outcome;
  }
}

const nested = (levels: number, leaf: unknown = 1): unknown => {
  let json: unknown = leaf;
  for (let i = 0; i < levels; i++) json = i % 2 ? { a: json } : [json];
  return json;
};

test(`takes ${MAX_JSON_DEPTH} levels of nesting and refuses ${MAX_JSON_DEPTH + 1}, however deep, without recursing`, () => {
  expect(refusal(nested(MAX_JSON_DEPTH))).toBeUndefined();
  const tooDeep = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'structure', details: { text: 'The JSON is nested too deeply (more than 100 levels)' } }],
  };
  expect(refusal(nested(MAX_JSON_DEPTH + 1))).toEqual(tooDeep);
  // Far deeper than the call stack: JSON.parse builds it, a recursive walk would overflow on it.
  expect(refusal(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)))).toEqual(tooDeep);
  expect(refusal(JSON.parse('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)))).toEqual(tooDeep);
});

test('refuses a NUL in any string or key, naming where it is', () => {
  const text = (outcome: OperationOutcome | undefined) => [outcome?.issue[0].details?.text, outcome?.issue[0].expression];
  expect(text(refusal({ resourceType: 'Patient', name: [{ family: 'Park', given: ['A\u0000da'] }] }))).toEqual([
    'Text may not contain a NUL character (\\u0000)',
    ['Patient.name[0].given[0]'],
  ]);
  expect(text(refusal({ email: 'a\u0000@example.com', password: 'x' }))).toEqual([
    'Text may not contain a NUL character (\\u0000)',
    ['email'],
  ]);
  expect(text(refusal({ resourceType: 'Patient', extension: [{ ['url\u0000']: 'x' }] }))).toEqual([
    'Text may not contain a NUL character (\\u0000)',
    ['Patient.extension[0].url\u0000'],
  ]);
  expect(text(refusal('\u0000'))).toEqual(['Text may not contain a NUL character (\\u0000)', undefined]);
  expect(
    refusal({ resourceType: 'Patient', name: [{ family: 'Park\t\u00e9\u{1F600}' }], active: true, multipleBirthInteger: 2, x: null }),
  ).toBeUndefined();
  expect(() => checkText('name\u0000')).toThrow('Text may not contain a NUL character');
  expect(() => checkText('name')).not.toThrow();
});

test('issue 24 item 14: refuses a key naming an inherited property (__proto__, constructor...) anywhere, naming where it is', () => {
  const text = (outcome: OperationOutcome | undefined) => [outcome?.issue[0].details?.text, outcome?.issue[0].expression];
  expect(text(refusal(JSON.parse('{"resourceType":"Patient","__proto__":{"admin":true}}')))).toEqual([
    'Invalid additional property "__proto__"',
    ['Patient.__proto__'],
  ]);
  expect(text(refusal(JSON.parse('{"email":"a@example.com","constructor":{"prototype":{}}}')))).toEqual([
    'Invalid additional property "constructor"',
    ['constructor'],
  ]);
  expect(text(refusal(JSON.parse('{"resourceType":"Parameters","parameter":[{"name":"a","toString":"x"}]}')))).toEqual([
    'Invalid additional property "toString"',
    ['Parameters.parameter[0].toString'],
  ]);
  // Only keys: the same words as values are text like any other.
  expect(refusal({ resourceType: 'Patient', name: [{ family: 'constructor', given: ['__proto__'] }] })).toBeUndefined();
});
