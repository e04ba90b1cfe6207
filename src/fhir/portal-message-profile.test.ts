import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Attachment, Communication, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { loadFhirDefinitions, localProfileFor } from './definitions';
import { FhirError } from './outcomes';
import { assertValidResource } from './validation';

const PROFILE = 'https://chartkeeper.example/fhir/StructureDefinition/portal-message';

beforeAll(() => loadFhirDefinitions());

function message(body: string, attachments: Attachment[] = []): Communication {
  return {
    resourceType: 'Communication',
    status: 'completed',
    subject: { reference: 'Patient/ada' },
    payload: [{ contentString: body }, ...attachments.map((contentAttachment) => ({ contentAttachment }))],
  };
}

const pdf = (n: number): Attachment[] =>
  Array.from({ length: n }, (_, i) => ({ contentType: 'application/pdf', url: `Binary/${i}`, size: 1000 }));

function invariant(key: string, human: string, expression: string, fhirpath: string): OperationOutcomeIssue {
  return {
    severity: 'error',
    code: 'invariant',
    details: { text: `Constraint ${key} not met: ${human}` },
    expression: [expression],
    diagnostics: JSON.stringify({ fhirpath }),
  };
}

function issuesOf(resource: Communication): OperationOutcomeIssue[] {
  try {
    assertValidResource(resource);
    return [];
  } catch (err) {
    expect((err as FhirError).status).toBe(400);
    return (err as FhirError).outcome.issue ?? [];
  }
}

test('fhir-profiles/ gives Communication the portal-message profile, with a snapshot medplum can read', () => {
  const profile = localProfileFor('Communication');
  expect(profile?.url).toBe(PROFILE);
  expect(profile?.snapshot?.element?.[0].constraint?.map((c) => c.key)).toContain('ck-msg-2');
  // The profile bites when handed to medplum's validator directly, not only through our wrapper.
  expect(() => validateResource(message('x'.repeat(1001)), { profile })).toThrow(OperationOutcomeError);
  expect(validateResource(message('x'.repeat(1001)))).toEqual([]);
});

test('a body of 1000 characters and 10 attachments is accepted', () => {
  expect(issuesOf(message('x'.repeat(1000), pdf(10)))).toEqual([]);
  expect(
    issuesOf(
      message('Hello', [
        { contentType: 'image/jpeg', url: 'Binary/j' },
        { contentType: 'image/png', url: 'Binary/p', size: 10485760 },
      ]),
    ),
  ).toEqual([]);
});

test('a body over 1000 characters gets 400 at the payload entry', () => {
  expect(issuesOf(message('x'.repeat(1001)))).toEqual([
    invariant(
      'ck-msg-1',
      'A message body (payload.contentString) is at most 1000 characters',
      'Communication.payload[0]',
      'content.ofType(string).all(length() <= 1000)',
    ),
  ]);
});

test('an 11th attachment gets 400', () => {
  expect(issuesOf(message('Results attached', pdf(11)))).toEqual([
    invariant(
      'ck-msg-2',
      'A portal message carries at most 10 attachments',
      'Communication',
      'payload.content.ofType(Attachment).count() <= 10',
    ),
  ]);
});

test('attachments must be PDF, JPEG or PNG of at most 10 MB', () => {
  const html = issuesOf(message('See this', [{ contentType: 'text/html', url: 'Binary/h' }]));
  expect(html.map((i) => [i.details?.text, i.expression?.[0]])).toEqual([
    [
      'Constraint ck-msg-3 not met: An attachment is a PDF, JPEG or PNG (contentType application/pdf, image/jpeg or image/png)',
      'Communication.payload[1]',
    ],
  ]);
  const huge = issuesOf(message('Scan', [{ contentType: 'image/png', url: 'Binary/s', size: 10485761 }]));
  expect(huge.map((i) => [i.details?.text, i.expression?.[0]])).toEqual([
    ['Constraint ck-msg-4 not met: An attachment is at most 10 MB (size at most 10485760 bytes)', 'Communication.payload[1]'],
  ]);
});
