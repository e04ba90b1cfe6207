/**
 * Issue 23: under load the soak's instances answered some C-CDA imports 500 "the C-CDA parse worker exited (1)": the
 * idle parse worker was being stopped as the next document arrived, and the old worker's exit failed the document
 * sent to the new one. Now a document is only ever failed by its own worker: one that runs the worker out of memory
 * is a 413 naming CCDA_PARSE_HEAP_MB, one lost with a worker through no fault of its own is parsed again once, and a
 * parser that cannot run at all is a 503 with Retry-After. Nothing is written in any of these cases.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OperationOutcome, Parameters } from '@medplum/fhirtypes';
import { stopCcdaParseWorker } from '../src/portal/records/parse-ccda-off-thread';
import { recordState } from './support/record-state';
import { startTestApp, type TestApp } from './support/test-app';

const SMALL = fs.readFileSync(path.join(__dirname, '../fixtures/ccda-golden/negated-problem-and-allergy.xml'), 'utf8');

/** The small document with a section narrative of `mb` MB. */
function withLongNarrative(mb: number): string {
  const at = SMALL.indexOf('<text>') + '<text>'.length;
  const paragraph = `<paragraph>${'the cough keeps me awake most nights and gets worse when I climb stairs. '.repeat(14)}</paragraph>`;
  return SMALL.slice(0, at) + paragraph.repeat(Math.ceil((mb * 1024 * 1024) / paragraph.length)) + SMALL.slice(at);
}

let app: TestApp;
afterEach(async () => {
  await app?.close();
  await stopCcdaParseWorker();
});

function importXml(xml: string): Promise<Response> {
  return app.request('/fhir/$import-ccda', { method: 'POST', body: xml, headers: { 'Content-Type': 'application/xml' } });
}

test('a document sent as the idle parse worker is being stopped is imported (was a 500)', async () => {
  app = await startTestApp();
  expect((await importXml(SMALL)).status).toBe(201);
  // The idle timer's stop, with the next document already on its way.
  const stopping = stopCcdaParseWorker();
  const res = await importXml(withLongNarrative(1));
  await stopping;
  expect(res.status).toBe(201);
}, 120_000);

test('a document that runs the parse worker out of memory is a 413 naming the limit; nothing is written', async () => {
  app = await startTestApp({ config: { ccdaParseHeapMb: 160 } });
  const before = await recordState(app.database);
  const res = await importXml(withLongNarrative(19));
  expect(res.status).toBe(413);
  expect(((await res.json()) as OperationOutcome).issue).toEqual([
    {
      severity: 'error',
      code: 'too-long',
      details: {
        text: 'The document needs more memory to import than one import may use (160 MB, CCDA_PARSE_HEAP_MB); nothing was imported',
      },
    },
  ]);
  expect(await recordState(app.database)).toEqual(before);
  // The next document gets a new worker.
  const next = await importXml(SMALL);
  expect(next.status).toBe(201);
  expect(((await next.json()) as Parameters).resourceType).toBe('Parameters');
}, 120_000);
