import type { Bundle, Communication, OperationOutcome } from '@medplum/fhirtypes';
import { startTestApp, TestApp } from './support/test-app';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

const message = (body: string, extra: Partial<Communication> = {}): Communication => ({
  resourceType: 'Communication',
  status: 'completed',
  payload: [{ contentString: body }],
  ...extra,
});

test('a Communication that breaks the portal-message profile gets 400 and is not stored', async () => {
  const tooLong = await app.request('/fhir/Communication', { method: 'POST', json: message('x'.repeat(1001)) });
  expect(tooLong.status).toBe(400);
  const outcome = (await tooLong.json()) as OperationOutcome;
  expect(outcome.issue.map((i) => [i.code, i.details?.text, i.expression?.[0]])).toEqual([
    [
      'invariant',
      'Constraint ck-msg-1 not met: A message body (payload.contentString) is at most 1000 characters',
      'Communication.payload[0]',
    ],
  ]);
  const attachments = Array.from({ length: 11 }, (_, i) => ({ contentAttachment: { contentType: 'application/pdf', url: `Binary/${i}` } }));
  const tooMany = await app.request('/fhir/Communication', {
    method: 'POST',
    json: { ...message('hi'), payload: [{ contentString: 'hi' }, ...attachments] },
  });
  expect(tooMany.status).toBe(400);
  expect(((await tooMany.json()) as OperationOutcome).issue[0].details?.text).toBe(
    'Constraint ck-msg-2 not met: A portal message carries at most 10 attachments',
  );
  const count = (await (await app.request('/fhir/Communication?_summary=count')).json()) as Bundle;
  expect(count.total).toBe(0);
});

test('a code outside a required binding gets 400 over HTTP', async () => {
  const res = await app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Patient', gender: 'bogus' } });
  expect(res.status).toBe(400);
  const outcome = (await res.json()) as OperationOutcome;
  expect(outcome.issue).toEqual([
    {
      severity: 'error',
      code: 'code-invalid',
      details: {
        text: 'Code "bogus" is not in the required value set http://hl7.org/fhir/ValueSet/administrative-gender; allowed: male, female, other, unknown',
      },
      expression: ['Patient.gender'],
    },
  ]);
});

test('the in-response-to search parameter from fhir-profiles/ finds the replies to a message', async () => {
  const first = (await (
    await app.request('/fhir/Communication', { method: 'POST', json: message('Is my lab back?') })
  ).json()) as Communication;
  const reply = await app.request('/fhir/Communication', {
    method: 'POST',
    json: message('Yes, all normal.', { inResponseTo: [{ reference: `Communication/${first.id}` }] }),
  });
  expect(reply.status).toBe(201);
  const replyId = ((await reply.json()) as Communication).id;
  const thread = (await (
    await app.request(`/fhir/Communication?in-response-to=Communication/${first.id}`)
  ).json()) as Bundle<Communication>;
  expect(thread.entry?.map((e) => e.resource?.id)).toEqual([replyId]);
  const metadata = (await (await app.request('/fhir/metadata')).json()) as any;
  const communication = metadata.rest[0].resource.find((r: { type: string }) => r.type === 'Communication');
  expect(communication.searchParam.map((p: { name: string }) => p.name)).toContain('in-response-to');
});
