/**
 * C-CDA documents up to MAX_XML_BYTES (issue 15): a corpus CCD padded with a long narrative to 5 MB and to 19 MB is
 * imported, and its original downloads byte for byte; one over 20 MB is a 413 naming the limit. One app for the file.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DocumentReference, OperationOutcome, Parameters } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { startTestApp, TestApp } from './support/test-app';

const R21_CCD = path.resolve(__dirname, '../../shared/corpus/ccda/hl7-cda-ccda-2.1/examples/C-CDA_R2-1_CCD.xml');
const haveCorpus = fs.existsSync(R21_CCD);
if (!haveCorpus) console.warn(`skipping the large C-CDA import tests: ${R21_CCD} is absent (../shared/corpus not beside the checkout)`);
const maybe = haveCorpus ? test : test.skip;

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

const MB = 1024 * 1024;

/** The corpus CCD with paragraphs of a transcribed note added to its first section's narrative, to `bytes` in all. */
function padded(bytes: number): Buffer {
  const xml = fs.readFileSync(R21_CCD, 'utf8');
  const at = xml.indexOf('<text>', xml.indexOf('<section>')) + '<text>'.length;
  const paragraph = `<paragraph>In the patient's words, transcribed at the visit: ${'the cough keeps me awake most nights and gets worse when I climb stairs. '.repeat(12)}</paragraph>\n`;
  const head = Buffer.from(xml.slice(0, at));
  const tail = Buffer.from(xml.slice(at));
  const room = bytes - head.length - tail.length;
  const filler = Buffer.from(paragraph.repeat(Math.floor(room / Buffer.byteLength(paragraph))));
  const spaces = Buffer.alloc(room - filler.length, ' ');
  return Buffer.concat([head, filler, spaces, tail]);
}

function importXml(body: Buffer): Promise<Response> {
  return app.request('/fhir/$import-ccda', { method: 'POST', headers: { 'Content-Type': 'application/xml' }, body });
}

async function rowCounts(): Promise<string> {
  const { rows } = await sql<{
    n: string;
  }>`select (select count(*) from resource where resource_type <> 'AuditEvent') || '/' || (select count(*) from binary_content) as n`.execute(
    app.database.db,
  );
  return rows[0].n;
}

maybe.each([5, 19])(
  'a corpus CCD padded with a long narrative to %d MB is imported, and its original downloads byte for byte',
  async (mb) => {
    const xml = padded(mb * MB);
    expect(xml.length).toBe(mb * MB);
    const res = await importXml(xml);
    expect(res.status).toBe(201);
    const summary = (await res.json()) as Parameters;
    const warnings = summary.parameter!.filter((p) => p.name === 'warning').map((p) => p.valueString);
    expect(warnings).toContainEqual(expect.stringMatching(/its narrative \([\d.]+ MB\) is kept in the original document only$/));
    const document = summary.parameter!.find((p) => p.name === 'document')!.valueReference!.reference!;
    const reference = (await (await app.request(`/fhir/${document}`)).json()) as DocumentReference;
    const attachment = reference.content[0].attachment;
    expect(attachment).toMatchObject({
      contentType: 'application/xml',
      size: xml.length,
      hash: createHash('sha1').update(xml).digest('base64'),
    });
    const original = await app.request(`/fhir/${attachment.url}`, { headers: { Accept: 'application/xml' } });
    expect(original.status).toBe(200);
    expect(original.headers.get('content-length')).toBe(String(xml.length));
    const bytes = Buffer.from(await original.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(createHash('sha256').update(xml).digest('hex'));
    expect(bytes.equals(xml)).toBe(true);
  },
  180_000,
);

maybe(
  'a 21 MB document is a 413 naming MAX_XML_BYTES, and nothing is written',
  async () => {
    const before = await rowCounts();
    const res = await importXml(padded(21 * MB));
    expect(res.status).toBe(413);
    const outcome = (await res.json()) as OperationOutcome;
    expect(outcome.issue.map((i) => i.details?.text)).toEqual(['The document is larger than 20 MB (MAX_XML_BYTES); nothing was imported']);
    expect(await rowCounts()).toBe(before);
  },
  120_000,
);
