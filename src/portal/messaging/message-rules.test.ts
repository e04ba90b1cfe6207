import type { Binary, Communication } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcomes';
import { checkPortalWrite, findCardNumber, MESSAGE_SUBJECT_SYSTEM, type MessageLookup, sniffFileType } from './message-rules';

const PDF = Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n');
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]);
const EXE = Buffer.from('MZ\x90\x00\x03\x00\x00\x00\x04\x00');

describe('findCardNumber', () => {
  test.each([
    ['Visa with spaces', 'my card is 4111 1111 1111 1111 thanks', '4111111111111111'],
    ['Mastercard with dashes', '5555-5555-5555-4444', '5555555555554444'],
    ['Mastercard 2-series', 'card 2223003122003222', '2223003122003222'],
    ['American Express', 'amex 3782 822463 10005', '378282246310005'],
    ['Discover', '6011111111111117', '6011111111111117'],
    ['JCB', '3530111333300000', '3530111333300000'],
    ['Diners Club', '3056 9309 0259 04', '30569309025904'],
    ['a card followed by its security code', 'card 4111 1111 1111 1111 123', '4111111111111111'],
    ['a card after another number', 'order 12 4111 1111 1111 1111', '4111111111111111'],
    ['a card written with dots and double spaces', '4111.1111.1111.1111 or 5555  5555  5555  4444', '4111111111111111'],
  ])('finds %s', (_name, text, digits) => {
    expect(findCardNumber(text)).toBe(digits);
  });

  test.each([
    ['a card number with a wrong check digit', '4111 1111 1111 1112'],
    ['a phone number', 'call me at 206-555-0142 or +1 (206) 555 0142'],
    ['a date and a record number', 'seen on 2026-03-14, MRN 000123456'],
    ['sixteen digits no network issues', '1234 5678 9012 3452'],
    ['a longer run of digits (a tracking number)', '41111111111111110000000'],
    ['a short number', 'dose 4111 mg'],
  ])('does not flag %s', (_name, text) => {
    expect(findCardNumber(text)).toBeUndefined();
  });
});

describe('sniffFileType', () => {
  test('knows PDF, PNG and JPEG by their first bytes, and nothing else', () => {
    expect(sniffFileType(PDF)).toBe('application/pdf');
    expect(sniffFileType(PNG)).toBe('image/png');
    expect(sniffFileType(JPEG)).toBe('image/jpeg');
    expect(sniffFileType(EXE)).toBeUndefined();
    expect(sniffFileType(Buffer.from('GIF89a'))).toBeUndefined();
    expect(sniffFileType(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('checkPortalWrite', () => {
  const uploaded: Record<string, Binary> = {
    scan: { resourceType: 'Binary', id: 'scan', contentType: 'application/pdf', data: PDF.toString('base64') },
    program: { resourceType: 'Binary', id: 'program', contentType: 'application/pdf', data: EXE.toString('base64') },
  };
  const lookup: MessageLookup = {
    recipientsFor: () => Promise.resolve(new Set(['Practitioner/maya', 'PractitionerRole/maya-main', 'Organization/practice'])),
    binary: (id) => Promise.resolve(uploaded[id]),
    // The store's facts of a file, here from the test's inline data.
    file: (binary) =>
      Promise.resolve(
        binary.data
          ? { size: Buffer.from(binary.data, 'base64').length, head: Buffer.from(binary.data, 'base64').subarray(0, 16) }
          : undefined,
      ),
    senderOf: (id) => Promise.resolve(id === 'reply' ? 'Practitioner/lab-doctor' : undefined),
  };
  const message = (extra: Partial<Communication> = {}): Communication => ({
    resourceType: 'Communication',
    status: 'completed',
    subject: { reference: 'Patient/ada' },
    topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'medical-question' }] },
    recipient: [{ reference: 'Practitioner/maya' }],
    payload: [{ contentString: 'Is it normal to feel tired after the flu shot?' }],
    ...extra,
  });
  const problems = async (resource: Communication | Binary): Promise<string[]> => {
    try {
      await checkPortalWrite(resource, ['ada'], lookup);
      return [];
    } catch (err) {
      expect(err).toBeInstanceOf(FhirError);
      expect((err as FhirError).status).toBe(400);
      return (err as FhirError).outcome.issue.map((i) => `${i.expression?.[0]}: ${i.details?.text}`);
    }
  };

  test('a message to a provider the patient has seen, with a subject, passes', async () => {
    expect(await problems(message())).toEqual([]);
    expect(
      await problems(message({ recipient: [{ reference: 'PractitionerRole/maya-main' }, { reference: 'Organization/practice' }] })),
    ).toEqual([]);
  });

  test('a card number is refused, in drafts too', async () => {
    const card = [{ contentString: 'Please charge 4111-1111-1111-1111 for the copay' }];
    expect(await problems(message({ payload: card }))).toEqual([
      expect.stringMatching(/^Communication\.payload\[0\]\.contentString: .*payment card number/),
    ]);
    expect(await problems(message({ status: 'preparation', payload: card }))).toHaveLength(1);
  });

  test('a sent message needs a subject from the list and recipients the patient may write to', async () => {
    const found = await problems(
      message({
        topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'gossip' }] },
        recipient: [{ reference: 'Practitioner/stranger' }],
      }),
    );
    expect(found).toEqual([
      expect.stringMatching(/^Communication\.topic: .*medical-question \(Medical question\).*"gossip" is not one of them/),
      expect.stringMatching(/^Communication\.recipient\[0\]: .*Practitioner\/stranger.*is not a provider this patient may write to/),
    ]);
    expect(await problems(message({ topic: undefined, recipient: undefined }))).toEqual([
      expect.stringMatching(/^Communication\.topic: .*none is given/),
      expect.stringMatching(/^Communication\.recipient: /),
    ]);
    // A draft may be unfinished.
    expect(await problems(message({ status: 'preparation', topic: undefined, recipient: undefined }))).toEqual([]);
  });

  test('a card number anywhere in the message is found (a note, the subject text, a file title)', async () => {
    const found = await problems(
      message({
        note: [{ text: 'my card: 4111 1111 1111 1111' }],
        topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'billing' }], text: 'Pay with 5555-5555-5555-4444' },
        payload: [{ contentAttachment: { contentType: 'image/png', data: PNG.toString('base64'), title: 'card 378282246310005.png' } }],
      }),
    );
    expect(found).toEqual([
      expect.stringMatching(/^Communication\.topic\.text: .*payment card number/),
      expect.stringMatching(/^Communication\.payload\[0\]\.contentAttachment\.title: .*payment card number/),
      expect.stringMatching(/^Communication\.note\[0\]\.text: .*payment card number/),
    ]);
  });

  test('a subject code must be one of the list, not any property name', async () => {
    expect(await problems(message({ topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'toString' }] } }))).toEqual([
      expect.stringMatching(/^Communication\.topic: .*"toString" is not one of them/),
    ]);
  });

  test('the author of the message being answered may be written back to', async () => {
    const reply = message({ recipient: [{ reference: 'Practitioner/lab-doctor' }], inResponseTo: [{ reference: 'Communication/reply' }] });
    expect(await problems(reply)).toEqual([]);
    expect(await problems({ ...reply, inResponseTo: [{ reference: 'Communication/other' }] })).toHaveLength(1);
  });

  test('attachments are PDF, JPEG or PNG by content, inline or uploaded, and agree with their declared type', async () => {
    const attach = (...attachments: NonNullable<Communication['payload']>) => message({ payload: attachments });
    expect(
      await problems(
        attach(
          { contentAttachment: { contentType: 'image/png', data: PNG.toString('base64') } },
          { contentAttachment: { url: 'Binary/scan' } },
        ),
      ),
    ).toEqual([]);
    expect(await problems(attach({ contentAttachment: { contentType: 'image/jpg', data: JPEG.toString('base64') } }))).toEqual([]);
    expect(
      await problems(
        attach(
          { contentAttachment: { contentType: 'application/pdf', data: EXE.toString('base64') } },
          { contentAttachment: { contentType: 'image/png', data: JPEG.toString('base64') } },
          { contentAttachment: { url: 'Binary/program' } },
          { contentAttachment: { url: 'Binary/missing' } },
          { contentAttachment: { url: 'https://example.org/cat.png' } },
          { contentAttachment: { title: 'nothing' } },
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^Communication\.payload\[0\]\.contentAttachment: .*not a PDF, JPEG or PNG file/),
      expect.stringMatching(/^Communication\.payload\[1\]\.contentAttachment: .*says it is image\/png, but its content is image\/jpeg/),
      expect.stringMatching(/^Communication\.payload\[2\]\.contentAttachment\.url: Binary\/program is not a PDF, JPEG or PNG/),
      expect.stringMatching(/^Communication\.payload\[3\]\.contentAttachment\.url: .*Binary\/missing, which does not exist/),
      expect.stringMatching(/^Communication\.payload\[4\]\.contentAttachment\.url: .*must name a Binary/),
      expect.stringMatching(/^Communication\.payload\[5\]\.contentAttachment: .*holds no file/),
    ]);
  });

  test('attachment links are exactly this service’s Binary/{id}; no link beside inline data; no contentReference', async () => {
    const withBase: MessageLookup = { ...lookup, binaryUrl: 'https://chart.example/fhir/Binary/' };
    const at = async (attachment: NonNullable<Communication['payload']>[number]) => {
      try {
        await checkPortalWrite(message({ payload: [attachment] }), ['ada'], withBase);
        return 'ok';
      } catch (err) {
        return (err as FhirError).outcome.issue.map((i) => i.details?.text).join(' | ');
      }
    };
    expect(await at({ contentAttachment: { url: 'https://chart.example/fhir/Binary/scan' } })).toBe('ok');
    expect(await at({ contentAttachment: { url: 'https://evil.example/Binary/scan' } })).toMatch(
      /must name a Binary uploaded to this service/,
    );
    expect(await at({ contentAttachment: { url: 'javascript:alert(1)//Binary/scan' } })).toMatch(
      /must name a Binary uploaded to this service/,
    );
    expect(await at({ contentAttachment: { url: 'https://chart.example/fhir/Binary/scan?x=1' } })).toMatch(
      /must name a Binary uploaded to this service/,
    );
    expect(await at({ contentAttachment: { data: PDF.toString('base64'), url: 'javascript:alert(1)' } })).toMatch(
      /gives both data and url/,
    );
    expect(await at({ contentReference: { reference: 'Binary/program' } })).toMatch(/contentReference is not taken from the portal/);
    // Base64 broken into lines (as many encoders write it) is read the same.
    expect(
      await at({ contentAttachment: { contentType: 'image/png', data: `\n  ${PNG.toString('base64').replace(/(.{8})/g, '$1\n')}` } }),
    ).toBe('ok');
  });

  test('a file over 10 MB is refused without decoding it', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024 + 1);
    PDF.copy(big);
    expect(await problems({ resourceType: 'Binary', contentType: 'application/pdf', data: big.toString('base64') })).toEqual([
      expect.stringMatching(/^Binary: .*10\.0 MB; a file is at most 10 MB/),
    ]);
    const limit = Buffer.alloc(10 * 1024 * 1024);
    PDF.copy(limit);
    expect(await problems({ resourceType: 'Binary', contentType: 'application/pdf', data: limit.toString('base64') })).toEqual([]);
  });
});
