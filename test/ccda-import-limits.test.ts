/**
 * Issue 24 item 6: a 20 MB C-CDA held the event loop 5-14 s near 2 GB, and a start tag of a million attributes (or
 * an attribute list that never ends) overflowed the guard's stack: a 500. Now the document is parsed on a worker
 * thread with bounded memory, 20 MB of tiny elements is refused at the element limit, and the attribute cases are
 * 400s, all fast, with /healthz answering meanwhile and nothing stored.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { OperationOutcome, Parameters } from '@medplum/fhirtypes';
import { DEFAULT_MAX_ELEMENTS } from '../src/ccda/parse';
import { stopCcdaParseWorker } from '../src/portal/records/parse-ccda-off-thread';
import { recordState } from './support/record-state';
import { startTestApp, type TestApp } from './support/test-app';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
  await stopCcdaParseWorker();
});

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">';

function healthz(): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(`${app.url}/healthz`, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`/healthz ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

/** Imports `xml` while reading /healthz every 50 ms: the status, the first issue's text, the slowest /healthz (ms). */
async function importProbing(xml: string): Promise<[number, string | undefined, number]> {
  let slowest = 0;
  let done = false;
  const probe = (async () => {
    while (!done) {
      const started = performance.now();
      await healthz();
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const res = await app.request('/fhir/$import-ccda', { method: 'POST', body: xml, headers: { 'Content-Type': 'application/xml' } });
  const body = (await res.json()) as OperationOutcome;
  done = true;
  await probe;
  return [res.status, body.issue?.[0]?.details?.text, slowest];
}

describe('issue 24 item 6: large and hostile C-CDA documents', () => {
  it('refuses a million attributes, an unclosed attribute list and 20 MB of tiny elements with 400, fast, /healthz answering', async () => {
    const before = await recordState(app.database);
    const cases: [string, string, string][] = [
      [
        'a million attributes',
        `${HEAD}<a ${Array.from({ length: 1_000_000 }, (_, i) => `a${i}="1"`).join(' ')}/></ClinicalDocument>`,
        'Element <a> has more than 64 attributes (line 2, column 42)',
      ],
      [
        'an attribute list that never ends',
        `${HEAD}<a ${'x="1" '.repeat(2_000_000)}`,
        'Element <a> has more than 64 attributes (line 2, column 42)',
      ],
      ['an attribute value that never ends', `${HEAD}<a x="${'y'.repeat(15_000_000)}`, 'Malformed markup (line 2, column 42)'],
      [
        '20 MB of tiny elements',
        `${HEAD}${'<a/>'.repeat(4_900_000)}</ClinicalDocument>`,
        `The document has more than ${DEFAULT_MAX_ELEMENTS} elements (line 2, column ${42 + 4 * (DEFAULT_MAX_ELEMENTS - 1)})`,
      ],
    ];
    for (const [name, xml, message] of cases) {
      expect(Buffer.byteLength(xml)).toBeLessThanOrEqual(app.config.maxXmlBytes);
      const started = performance.now();
      const [status, text, slowest] = await importProbing(xml);
      expect([name, status, text]).toEqual([name, 400, message]);
      // Parsed on a worker: /healthz is not held (a probe answers well under 1 s on a quiet machine; 2.5 s allows a busy one).
      expect([name, performance.now() - started < 10_000, slowest < 2_500]).toEqual([name, true, true]);
    }
    expect(await recordState(app.database)).toEqual(before);
  });

  it('still imports a document within the limits (parsed on the worker)', async () => {
    const xml = fs.readFileSync(path.join(__dirname, '../fixtures/ccda-golden/unstructured.xml'), 'utf8');
    const res = await app.request('/fhir/$import-ccda', { method: 'POST', body: xml, headers: { 'Content-Type': 'application/xml' } });
    expect(res.status).toBe(201);
    const summary = (await res.json()) as Parameters;
    expect(summary.resourceType).toBe('Parameters');
  });
});
