/**
 * Files of every size the rules allow (issue 15): Binary content stored as bytes and streamed, on the demo family.
 * The large files share this one app and database; each test builds its file once and lets it go.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Attachment, Binary, Communication, OperationOutcome, Practitioner } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { MESSAGE_SUBJECT_SYSTEM } from '../src/portal/messaging/message-rules';
import { AccessFamily, CallerKey, startAccessFamily, T0 } from './support/access-family';

let f: AccessFamily;
let maya: Practitioner;
beforeAll(async () => {
  f = await startAccessFamily('westmed');
  [maya] = await f.system.searchResources<Practitioner>('Practitioner', { family: 'Chen' });
}, 120_000);
afterAll(() => f?.close());
beforeEach(() => f.clock.set(T0));

const MB = 1024 * 1024;
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** A PDF-looking file of `size` bytes (the portal judges a file by its first bytes). */
function pdf(size: number): Buffer {
  const file = randomBytes(size);
  file.write('%PDF-1.7\n', 0, 'latin1');
  return file;
}

function message(attachments: Attachment[]): Communication {
  const ada = { reference: `Patient/${f.patientIds.ada}` };
  return {
    resourceType: 'Communication',
    status: 'completed',
    subject: ada,
    sender: ada,
    topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'test-results' }] },
    recipient: [{ reference: `Practitioner/${maya.id}` }],
    payload: [{ contentString: 'The scans you asked for' }, ...attachments.map((contentAttachment) => ({ contentAttachment }))],
  };
}

async function upload(
  content: Buffer,
  caller: CallerKey = 'ada',
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await f.app.request('/fhir/Binary', {
    method: 'POST',
    token: await f.token(caller),
    body: content,
    headers: { 'Content-Type': 'application/pdf', 'X-Security-Context': `Patient/${f.patientIds.ada}`, ...headers },
  });
  return { status: res.status, body: await res.json() };
}

async function download(id: string, caller: CallerKey, headers: Record<string, string> = {}): Promise<{ res: Response; bytes: Buffer }> {
  const res = await f.app.request(`/fhir/Binary/${id}`, {
    token: await f.token(caller),
    headers: { Accept: 'application/pdf', ...headers },
  });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

/**
 * Rows of every table a write of a file touches: unchanged when nothing was written. (AuditEvents of earlier reads
 * are written in the background, so they are not counted.)
 */
async function written(): Promise<Record<string, number>> {
  const { rows } = await sql<{ name: string; n: string }>`
    select 'resource' as name, count(*)::text as n from resource where resource_type <> 'AuditEvent'
    union all select 'history', count(*)::text from resource_history where resource_type <> 'AuditEvent'
    union all select 'content', count(*)::text from binary_content union all select 'parts', count(*)::text from binary_content_part`.execute(
    f.app.database.db,
  );
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
}

const texts = (outcome: OperationOutcome): string[] => outcome.issue.map((i) => i.details?.text ?? '');

test("a 9.9 MB PDF sent inline with Ada's message is stored as a Binary that Dr. Chen reads back byte for byte", async () => {
  const file = pdf(Math.round(9.9 * MB));
  const sent = await f.app.request('/fhir/Communication', {
    method: 'POST',
    token: await f.token('ada'),
    json: message([{ contentType: 'application/pdf', data: file.toString('base64'), title: 'mri-report.pdf' }]),
  });
  expect(sent.status).toBe(201);
  const stored = (await sent.json()) as Communication;
  const attachment = stored.payload![1].contentAttachment!;
  expect(attachment).toEqual({
    contentType: 'application/pdf',
    title: 'mri-report.pdf',
    url: expect.stringMatching(/^Binary\/[0-9a-f-]{36}$/),
    size: file.length,
    hash: createHash('sha1').update(file).digest('base64'),
  });

  // Dr. Chen reads the message and follows its attachment.
  const read = await f.app.request(`/fhir/Communication/${stored.id}`, { token: await f.token('staff') });
  expect(((await read.json()) as Communication).payload![1].contentAttachment!.url).toBe(attachment.url);
  const { res, bytes } = await download(attachment.url!.slice('Binary/'.length), 'staff');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/pdf');
  expect(res.headers.get('content-length')).toBe(String(file.length));
  expect(res.headers.get('etag')).toBe('W/"1"');
  // A PDF shows inline (sandboxed, see download-headers.test.ts), under the name it was uploaded with.
  expect(res.headers.get('content-disposition')).toBe(`inline; filename="mri-report.pdf"; filename*=UTF-8''mri-report.pdf`);
  expect(sha256(bytes)).toBe(sha256(file));
  expect(bytes.equals(file)).toBe(true);
}, 120_000);

test('a 10.1 MB file from Ada is a 413 naming the 10 MB limit, inline or uploaded, and nothing is written', async () => {
  const file = pdf(Math.round(10.1 * MB));
  const before = await written();
  const inline = await f.app.request('/fhir/Communication', {
    method: 'POST',
    token: await f.token('ada'),
    json: message([{ contentType: 'application/pdf', data: file.toString('base64') }]),
  });
  expect(inline.status).toBe(413);
  expect(texts((await inline.json()) as OperationOutcome)).toEqual([
    'The file is 10.1 MB, more than the portal limit of 10 MB per file; nothing was stored',
  ]);
  const uploaded = await upload(file);
  expect(uploaded.status).toBe(413);
  expect(texts(uploaded.body)).toEqual(['The file is 10.1 MB, more than the portal limit of 10 MB per file; nothing was stored']);
  expect(await written()).toEqual(before);
  // Staff files go up to MAX_BINARY_BYTES.
  expect((await upload(file, 'staff')).status).toBe(201);
}, 120_000);

test('ten files of 9 MB go in one message; an eleventh is a 413', async () => {
  const file = pdf(9 * MB);
  const ids: string[] = [];
  for (let i = 0; i < 11; i++) {
    file.writeUInt32BE(i, 100); // ten different files
    const { status, body } = await upload(file);
    expect(status).toBe(201);
    ids.push(body.id);
  }
  const attach = (id: string): Attachment => ({ contentType: 'application/pdf', url: `Binary/${id}` });
  const before = await written();
  const eleven = await f.app.request('/fhir/Communication', {
    method: 'POST',
    token: await f.token('ada'),
    json: message(ids.map(attach)),
  });
  expect(eleven.status).toBe(413);
  expect(texts((await eleven.json()) as OperationOutcome)).toEqual([
    'A message carries at most 10 attachments (the portal limit); this one has 11. Nothing was stored',
  ]);
  expect(await written()).toEqual(before);
  const ten = await f.app.request('/fhir/Communication', {
    method: 'POST',
    token: await f.token('ada'),
    json: message(ids.slice(0, 10).map(attach)),
  });
  expect(ten.status).toBe(201);
  const { bytes } = await download(ids[9], 'staff');
  file.writeUInt32BE(9, 100);
  expect(bytes.equals(file)).toBe(true);
}, 300_000);

test('a 0-byte file: staff may store one and read it back empty; a portal upload must be a PDF, JPEG or PNG', async () => {
  const { status, body } = await upload(Buffer.alloc(0), 'staff', { 'Content-Type': 'text/plain' });
  expect(status).toBe(201);
  const { res, bytes } = await download(body.id, 'staff');
  expect([res.status, res.headers.get('content-length'), bytes.length]).toEqual([200, '0', 0]);
  const json = await f.app.request(`/fhir/Binary/${body.id}`, {
    token: await f.token('staff'),
    headers: { Accept: 'application/fhir+json' },
  });
  expect(await json.json()).toEqual({
    resourceType: 'Binary',
    id: body.id,
    meta: body.meta,
    contentType: 'text/plain',
    securityContext: { reference: `Patient/${f.patientIds.ada}` },
  });
  const portal = await upload(Buffer.alloc(0));
  expect(portal.status).toBe(400);
  expect(texts(portal.body)).toEqual([expect.stringMatching(/^Binary is empty/)]);
});

test('Range: bytes=0-99 is a 206 with those 100 bytes; other ranges as RFC 9110 has them', async () => {
  const file = pdf(3 * MB);
  const { body } = await upload(file, 'staff');
  const first = await download(body.id, 'ada', { Range: 'bytes=0-99' });
  expect(first.res.status).toBe(206);
  expect(first.res.headers.get('content-range')).toBe(`bytes 0-99/${file.length}`);
  expect(first.res.headers.get('content-length')).toBe('100');
  expect(first.bytes).toEqual(file.subarray(0, 100));
  const across = await download(body.id, 'ada', { Range: `bytes=${MB - 10}-${2 * MB + 9}` });
  expect(across.res.status).toBe(206);
  expect(across.bytes.equals(file.subarray(MB - 10, 2 * MB + 10))).toBe(true);
  const last = await download(body.id, 'ada', { Range: 'bytes=-10' });
  expect(last.bytes).toEqual(file.subarray(file.length - 10));
  const past = await download(body.id, 'ada', { Range: `bytes=${file.length}-` });
  expect(past.res.status).toBe(416);
  expect(past.res.headers.get('content-range')).toBe(`bytes */${file.length}`);
});

test('the FHIR JSON form of a 3 MB Binary carries its bytes in base64, built as it is sent; JSON uploads work too', async () => {
  const file = pdf(3 * MB);
  const { body } = await upload(file, 'staff');
  const res = await f.app.request(`/fhir/Binary/${body.id}`, {
    token: await f.token('staff'),
    headers: { Accept: 'application/fhir+json' },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
  const text = await res.text();
  expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
  const binary = JSON.parse(text) as Binary;
  expect(Object.keys(binary)).toEqual(['resourceType', 'contentType', 'securityContext', 'id', 'meta', 'data']);
  expect(Buffer.from(binary.data!, 'base64').equals(file)).toBe(true);

  // The same JSON sent back is the same version (the content did not change); staff may send 3 MB as JSON.
  const restated = await f.app.request(`/fhir/Binary/${body.id}`, { method: 'PUT', json: binary, token: await f.token('staff') });
  expect([restated.status, restated.headers.get('etag')]).toEqual([200, 'W/"1"']);
  const created = await f.app.request('/fhir/Binary', {
    method: 'POST',
    json: { resourceType: 'Binary', contentType: 'application/pdf', data: binary.data },
    token: await f.token('staff'),
  });
  expect(created.status).toBe(201);
  expect((await download(((await created.json()) as Binary).id!, 'staff')).bytes.equals(file)).toBe(true);
});

test('an upload cut off mid-stream writes nothing', async () => {
  const before = await written();
  const token = await f.token('staff');
  const url = new URL(`${f.app.fhir}/Binary`);
  await new Promise<void>((resolve) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/pdf',
        'Content-Length': String(4 * MB),
      },
    });
    req.on('error', () => resolve());
    req.write(pdf(MB), () => setTimeout(() => req.destroy(), 200));
  });
  // The server has seen the connection go once it answers the next request on a fresh one.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect((await upload(pdf(1000), 'staff')).status).toBe(201);
  const after = await written();
  expect(after).toEqual({
    resource: before.resource + 1,
    history: before.history + 1,
    content: before.content + 1,
    parts: before.parts + 1,
  });
});

test("a new version replaces the bytes; deleting keeps every version's bytes for history", async () => {
  const first = pdf(2 * MB);
  const second = pdf(MB + 5);
  const { body } = await upload(first, 'staff', { 'Content-Disposition': 'attachment; filename="lab.pdf"' });
  const put = await f.app.request(`/fhir/Binary/${body.id}`, {
    method: 'PUT',
    token: await f.token('staff'),
    body: second,
    headers: { 'Content-Type': 'application/pdf', 'X-Security-Context': `Patient/${f.patientIds.ada}` },
  });
  expect(put.status).toBe(200);
  expect((await download(body.id, 'staff')).bytes.equals(second)).toBe(true);
  expect((await f.app.request(`/fhir/Binary/${body.id}`, { method: 'DELETE', token: await f.token('staff') })).status).toBe(204);
  expect((await download(body.id, 'staff')).res.status).toBe(410);
  const version = async (v: number) => {
    const res = await f.app.request(`/fhir/Binary/${body.id}/_history/${v}`, {
      token: await f.token('staff'),
      headers: { Accept: 'application/pdf' },
    });
    return { status: res.status, disposition: res.headers.get('content-disposition'), bytes: Buffer.from(await res.arrayBuffer()) };
  };
  const [v1, v2] = [await version(1), await version(2)];
  expect([v1.status, v1.disposition, v1.bytes.equals(first)]).toEqual([200, `inline; filename="lab.pdf"; filename*=UTF-8''lab.pdf`, true]);
  expect([v2.status, v2.disposition, v2.bytes.equals(second)]).toEqual([200, `inline; filename="Binary-${body.id}"`, true]);
  const { rows } = await sql`select 1 from binary_content where sha256 = ${sha256(first)}`.execute(f.app.database.db);
  expect(rows.length).toBe(1);
});
