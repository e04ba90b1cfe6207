/**
 * Portal messages over HTTP (src/portal/message-rules.ts): who a patient or family member may write to, the
 * subject list, payment card numbers, and attachments by their content, on the demo family at T0 (Westmed).
 */
import type { Binary, Bundle, Communication, Encounter, OperationOutcome, Practitioner, PractitionerRole } from '@medplum/fhirtypes';
import { MESSAGE_SUBJECT_SYSTEM } from '../src/portal/messaging/message-rules';
import { AccessFamily, startAccessFamily, T0 } from './support/access-family';
import { storedBytes } from './support/binary-bytes';

let f: AccessFamily;
let maya: Practitioner;
let mayaRole: PractitionerRole;
beforeAll(async () => {
  f = await startAccessFamily('westmed');
  [maya] = await f.system.searchResources<Practitioner>('Practitioner', { family: 'Chen' });
  [mayaRole] = await f.system.searchResources<PractitionerRole>('PractitionerRole', { practitioner: `Practitioner/${maya.id}` });
});
afterAll(() => f?.close());
beforeEach(() => f.clock.set(T0));

const PDF = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n', 'latin1');
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a6a20000000049454e44ae426082',
  'hex',
);
const EXE = Buffer.from('4d5a90000300000004000000ffff0000b800000000000000400000000000000000', 'hex');

const ada = () => ({ reference: `Patient/${f.patientIds.ada}` });
const subject = (code = 'medical-question') => ({ coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code }] });

function message(extra: Partial<Communication> = {}): Communication {
  return {
    resourceType: 'Communication',
    status: 'completed',
    subject: ada(),
    sender: ada(),
    topic: subject(),
    recipient: [{ reference: `Practitioner/${maya.id}` }],
    payload: [{ contentString: 'Is it normal to feel tired after the flu shot?' }],
    ...extra,
  };
}

async function post(path: string, body: unknown, caller: 'ada' | 'dan' | 'staff' = 'ada'): Promise<{ status: number; body: any }> {
  const res = await f.app.request(path, { method: 'POST', token: await f.token(caller), json: body });
  return { status: res.status, body: await res.json() };
}

async function upload(content: Buffer, contentType: string): Promise<{ status: number; body: any }> {
  const res = await f.app.request('/fhir/Binary', {
    method: 'POST',
    token: await f.token('ada'),
    body: content,
    headers: { 'Content-Type': contentType, 'X-Security-Context': `Patient/${f.patientIds.ada}` },
  });
  return { status: res.status, body: await res.json() };
}

const texts = (outcome: OperationOutcome): string[] => outcome.issue.map((i) => `${i.expression?.[0]}: ${i.details?.text}`);

async function adaMessageCount(): Promise<number> {
  return (await f.system.searchResources<Communication>('Communication', { subject: `Patient/${f.patientIds.ada}` })).length;
}

describe('who a portal message may go to', () => {
  test('a provider Ada has seen, that provider at an office, or the practice; with a subject from the list', async () => {
    expect((await post('/fhir/Communication', message())).status).toBe(201);
    expect(
      (
        await post(
          '/fhir/Communication',
          message({ recipient: [{ reference: `PractitionerRole/${mayaRole.id}` }], topic: subject('prescription') }),
        )
      ).status,
    ).toBe(201);
    expect(
      (await post('/fhir/Communication', message({ recipient: [{ reference: `Organization/${f.organizationIds.westside}` }] }))).status,
    ).toBe(201);
  });

  test('not a clinician she has never seen, nor one only on a visit still planned; nothing is written', async () => {
    const { resource: stranger } = await f.system.create<Practitioner>({
      resourceType: 'Practitioner',
      name: [{ family: 'Nobody', given: ['Nadia'] }],
    });
    const { resource: planned } = await f.system.create<Encounter>({
      resourceType: 'Encounter',
      status: 'planned',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: ada(),
      participant: [{ individual: { reference: `Practitioner/${stranger.id}` } }],
    });
    const before = await adaMessageCount();
    const refused = await post('/fhir/Communication', message({ recipient: [{ reference: `Practitioner/${stranger.id}` }] }));
    expect(refused.status).toBe(400);
    expect(texts(refused.body)).toEqual([
      expect.stringMatching(/^Communication\.recipient\[0\]: .*is not a provider this patient may write to/),
    ]);
    expect(await adaMessageCount()).toBe(before);

    // Once the visit has taken place, she has seen Dr. Nobody.
    await f.system.update<Encounter>({ ...planned, status: 'finished' });
    expect((await post('/fhir/Communication', message({ recipient: [{ reference: `Practitioner/${stranger.id}` }] }))).status).toBe(201);
  });

  test('a role of a provider she has seen counts only while active and at her practice', async () => {
    const role = (extra: Partial<PractitionerRole>) =>
      f.system.create<PractitionerRole>({
        resourceType: 'PractitionerRole',
        practitioner: { reference: `Practitioner/${maya.id}` },
        ...extra,
      });
    const { resource: elsewhere } = await role({ organization: { reference: `Organization/${f.organizationIds.other}` } });
    const { resource: retired } = await role({ active: false, organization: { reference: `Organization/${f.organizationIds.westside}` } });
    const { resource: here } = await role({ organization: { reference: `Organization/${f.organizationIds.westside}` } });
    const to = async (r: PractitionerRole) =>
      (await post('/fhir/Communication', message({ recipient: [{ reference: `PractitionerRole/${r.id}` }] }))).status;
    expect([await to(elsewhere), await to(retired), await to(here)]).toEqual([400, 400, 201]);
  });

  test('whoever wrote the message she answers, and the staff reply itself needs no subject', async () => {
    const { resource: labDoctor } = await f.system.create<Practitioner>({
      resourceType: 'Practitioner',
      name: [{ family: 'Lab', given: ['Lee'] }],
    });
    const reply = await post(
      '/fhir/Communication',
      {
        resourceType: 'Communication',
        status: 'completed',
        subject: ada(),
        sender: { reference: `Practitioner/${labDoctor.id}` },
        recipient: [ada()],
        payload: [{ contentString: 'Your results are normal.' }],
      },
      'staff',
    );
    expect(reply.status).toBe(201);
    const answer = message({
      recipient: [{ reference: `Practitioner/${labDoctor.id}` }],
      inResponseTo: [{ reference: `Communication/${reply.body.id}` }],
      topic: subject('test-results'),
    });
    expect((await post('/fhir/Communication', answer)).status).toBe(201);
    expect((await post('/fhir/Communication', { ...answer, inResponseTo: undefined })).status).toBe(400);
  });

  test('a sent message without a subject or recipients is refused with the list; a draft may wait for them', async () => {
    const refused = await post('/fhir/Communication', message({ topic: { text: 'My question' }, recipient: undefined }));
    expect(refused.status).toBe(400);
    expect(texts(refused.body)).toEqual([
      expect.stringMatching(/^Communication\.topic: .*appointments \(Appointments and scheduling\).*none is given/),
      expect.stringMatching(/^Communication\.recipient: /),
    ]);
    expect((await post('/fhir/Communication', message({ status: 'preparation', topic: undefined, recipient: undefined }))).status).toBe(
      201,
    );
  });
});

describe('what a portal message may carry', () => {
  test('a payment card number is refused, from Ada and from Dan writing for her, and nothing is kept', async () => {
    const before = await adaMessageCount();
    const card = message({ payload: [{ contentString: 'Please put the copay on my card 4012 8888 8888 1881, exp 04/29' }] });
    const refused = await post('/fhir/Communication', card);
    expect(refused.status).toBe(400);
    expect(texts(refused.body)).toEqual([
      expect.stringMatching(/^Communication\.payload\[0\]\.contentString: .*payment card number.*billing office/),
    ]);
    expect(refused.body.issue[0].code).toBe('business-rule');
    expect((await post('/fhir/Communication', { ...card, status: 'preparation' })).status).toBe(400);
    const fromDan = { ...card, sender: { reference: `RelatedPerson/${f.relatedPersons.danForAda}` } };
    expect((await post('/fhir/Communication', fromDan, 'dan')).status).toBe(400);
    expect(
      (await post('/fhir/Communication', { ...fromDan, payload: [{ contentString: 'Asking for Ada: is the copay due now?' }] }, 'dan'))
        .status,
    ).toBe(201);
    expect(await adaMessageCount()).toBe(before + 1);
  });

  test('uploads are PDF, JPEG or PNG by content; a message attaches them by Binary reference or inline', async () => {
    const png = await upload(PNG, 'image/png');
    expect(png.status).toBe(201);
    const pdf = await upload(PDF, 'application/pdf');
    expect(pdf.status).toBe(201);
    const disguised = await upload(EXE, 'image/png');
    expect(disguised.status).toBe(400);
    expect(texts(disguised.body)).toEqual([expect.stringMatching(/^Binary: .*not a PDF, JPEG or PNG file \(judged by its content/)]);
    const mislabelled = await upload(PNG, 'application/pdf');
    expect(texts(mislabelled.body)).toEqual([
      expect.stringMatching(/^Binary: .*says it is application\/pdf, but its content is image\/png/),
    ]);

    const attached = message({
      payload: [
        { contentString: 'The rash, and the school form' },
        { contentAttachment: { contentType: 'image/png', url: `Binary/${png.body.id}`, title: 'rash.png' } },
        { contentAttachment: { url: `Binary/${pdf.body.id}`, title: 'form.pdf' } },
        { contentAttachment: { contentType: 'image/png', data: PNG.toString('base64'), title: 'inline.png' } },
      ],
    });
    expect((await post('/fhir/Communication', attached)).status).toBe(201);
  });

  test('an attachment that is not such a file, or a Binary she may not see, is refused', async () => {
    const { resource: staffNote } = await f.system.create<Binary>({
      resourceType: 'Binary',
      contentType: 'text/plain',
      data: Buffer.from('note').toString('base64'),
      securityContext: ada(),
    });
    const { resource: carasFile } = await f.system.create<Binary>({
      resourceType: 'Binary',
      contentType: 'application/pdf',
      data: PDF.toString('base64'),
      securityContext: { reference: `Patient/${f.patientIds.cara}` },
    });
    const refused = await post(
      '/fhir/Communication',
      message({
        payload: [
          { contentAttachment: { contentType: 'application/pdf', data: EXE.toString('base64') } },
          { contentAttachment: { url: `Binary/${staffNote.id}` } },
          { contentAttachment: { url: `Binary/${carasFile.id}` } },
          { contentAttachment: { url: 'https://example.org/photo.png' } },
        ],
      }),
    );
    expect(refused.status).toBe(400);
    expect(texts(refused.body)).toEqual([
      expect.stringMatching(/^Communication\.payload\[0\]\.contentAttachment: .*not a PDF, JPEG or PNG/),
      expect.stringMatching(/^Communication\.payload\[1\]\.contentAttachment\.url: Binary\/.* is not a PDF, JPEG or PNG/),
      expect.stringMatching(/^Communication\.payload\[2\]\.contentAttachment\.url: .*does not exist or which you may not see/),
      expect.stringMatching(/^Communication\.payload\[3\]\.contentAttachment\.url: .*must name a Binary uploaded to this service/),
    ]);
  });

  test('a transaction uploads the file and sends the message that attaches it, all or nothing', async () => {
    const bundle = (file: Buffer): Bundle => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:6a1c0d5e-3a0b-4f7e-9f2a-2a7f3c1d9e01',
          resource: { resourceType: 'Binary', contentType: 'application/pdf', data: file.toString('base64'), securityContext: ada() },
          request: { method: 'POST', url: 'Binary' },
        },
        {
          resource: message({ payload: [{ contentAttachment: { url: 'urn:uuid:6a1c0d5e-3a0b-4f7e-9f2a-2a7f3c1d9e01' } }] }),
          request: { method: 'POST', url: 'Communication' },
        },
      ],
    });
    const before = await adaMessageCount();
    expect((await post('/fhir', bundle(PDF))).status).toBe(200);
    expect(await adaMessageCount()).toBe(before + 1);
    expect((await post('/fhir', bundle(EXE))).status).toBe(400);
    expect(await adaMessageCount()).toBe(before + 1);
  });

  test('an uploaded file is never changed or removed from the portal (a released report, a sent attachment)', async () => {
    const { resource: report } = await f.system.create<Binary>({
      resourceType: 'Binary',
      contentType: 'application/pdf',
      data: PDF.toString('base64'),
      securityContext: ada(),
    });
    const mine = await upload(PDF, 'application/pdf');
    const token = await f.token('ada');
    for (const id of [report.id, mine.body.id]) {
      const replaced = await f.app.request(`/fhir/Binary/${id}`, {
        method: 'PUT',
        token,
        json: { resourceType: 'Binary', id, contentType: 'image/png', data: PNG.toString('base64'), securityContext: ada() },
      });
      expect(replaced.status).toBe(403);
      expect((await f.app.request(`/fhir/Binary/${id}`, { method: 'DELETE', token })).status).toBe(403);
    }
    expect(await storedBytes(f.system, report.id!)).toEqual(PDF);
  });

  test('staff are not held to the portal rules (imports and replies come from the practice)', async () => {
    const staffMessage = {
      resourceType: 'Communication',
      status: 'completed',
      subject: ada(),
      payload: [{ contentString: 'Reminder: flu shots start Monday' }],
    };
    expect((await post('/fhir/Communication', staffMessage, 'staff')).status).toBe(201);
  });
});
