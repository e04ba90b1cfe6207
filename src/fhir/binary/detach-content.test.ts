import { createHash } from 'node:crypto';
import type { Binary, Communication, DocumentReference } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '../definitions';
import { FhirError } from '../outcomes';
import { storedContentOf } from './binary-content';
import { detachContent, INLINE_ATTACHMENT_BYTES } from './detach-content';
import type { UploadLimits } from './upload-limits';

beforeAll(() => loadFhirDefinitions());

const staff: UploadLimits = { fileBytes: 1024 * 1024, name: 'the limit of 1 MB per file (MAX_BINARY_BYTES)' };
const portal: UploadLimits = { fileBytes: 1024 * 1024, name: 'the portal limit', filesPerMessage: 2 };
const note = Buffer.from('Seen today. All good.');
const scan = Buffer.alloc(INLINE_ATTACHMENT_BYTES + 1, 7);

function document(...files: Buffer[]): DocumentReference & { id: string } {
  return {
    resourceType: 'DocumentReference',
    id: 'doc',
    status: 'current',
    content: files.map((f) => ({ attachment: { contentType: 'text/plain', data: f.toString('base64') } })),
  };
}

test('an attachment over 64 KB becomes a Binary with url, size and SHA-1; a short note stays inline; the input is kept', () => {
  const input = document(note, scan);
  const { resource, binaries, contents } = detachContent(input, staff);
  const [kept, moved] = (resource as DocumentReference).content.map((c) => c.attachment);
  expect(kept).toEqual({ contentType: 'text/plain', data: note.toString('base64') });
  expect(moved).toEqual({
    contentType: 'text/plain',
    url: `Binary/${binaries[0].id}`,
    size: scan.length,
    hash: createHash('sha1').update(scan).digest('base64'),
  });
  expect(binaries).toEqual([
    {
      resourceType: 'Binary',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      contentType: 'text/plain',
      securityContext: { reference: 'DocumentReference/doc' },
      _data: expect.anything(),
    },
  ]);
  expect(storedContentOf(binaries[0])).toEqual({ sha256: createHash('sha256').update(scan).digest('hex'), size: scan.length });
  expect(Buffer.concat(contents[0].content.chunks)).toEqual(scan);
  expect(input.content[1].attachment.data).toBe(scan.toString('base64'));
  // The same file at the same place of the same resource names the same Binary (a restated import adds nothing).
  expect(detachContent(document(note, scan), staff).binaries[0].id).toBe(binaries[0].id);
});

test('every attachment of a message is moved, however small; one with both data and url is left for the rules', () => {
  const message: Communication & { id: string } = {
    resourceType: 'Communication',
    id: 'msg',
    status: 'completed',
    payload: [
      { contentAttachment: { contentType: 'application/pdf', data: note.toString('base64') } },
      { contentAttachment: { data: note.toString('base64'), url: 'Binary/x' } },
    ],
  };
  const { resource, binaries } = detachContent(message, portal);
  expect((resource as Communication).payload!.map((p) => Object.keys(p.contentAttachment!).sort())).toEqual([
    ['contentType', 'hash', 'size', 'url'],
    ['data', 'url'],
  ]);
  expect(binaries.map((b) => b.securityContext)).toEqual([{ reference: 'Communication/msg' }]);
});

test("a Binary's data becomes content its JSON describes; bad base64 is a 400, a file over the limit a 413", () => {
  const binary: Binary & { id: string } = {
    resourceType: 'Binary',
    id: 'b',
    contentType: 'application/pdf',
    data: note.toString('base64'),
  };
  const { resource, contents } = detachContent(binary, staff);
  expect(resource).not.toHaveProperty('data');
  expect(storedContentOf(resource as Binary)).toEqual({ sha256: createHash('sha256').update(note).digest('hex'), size: note.length });
  expect(contents.map((c) => c.contentType)).toEqual(['application/pdf']);
  const status = (fn: () => unknown): number | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return err instanceof FhirError ? err.status : -1;
    }
  };
  expect(status(() => detachContent({ ...binary, data: 'not base64!' }, staff))).toBe(400);
  expect(status(() => detachContent({ ...binary, data: Buffer.alloc(staff.fileBytes + 1).toString('base64') }, staff))).toBe(413);
  expect(status(() => detachContent(document(Buffer.alloc(staff.fileBytes + 1)), staff))).toBe(413);
  const three: Communication & { id: string } = {
    resourceType: 'Communication',
    id: 'm',
    status: 'completed',
    payload: [1, 2, 3].map(() => ({ contentAttachment: { url: 'Binary/x' } })),
  };
  expect(status(() => detachContent(three, portal))).toBe(413);
  expect(status(() => detachContent(three, staff))).toBeUndefined();
});
