import { unzipSync, strFromU8 } from 'fflate';
import type { Organization } from '@medplum/fhirtypes';
import { renderCcd, renderCcdHtml, XDM_PATHS, type CcdInput } from '../src/ccda/render';
import { FhirError } from '../src/fhir/outcomes';
import { renderCcdOffThread, stopCcdRenderWorker } from '../src/portal/records/render-ccd-off-thread';
import { syntheticPatient } from '../bench/ccda-synthetic-patient';

/**
 * $ccda, $docref and $transmit render on a worker thread (issue 23: a whole record's render held the event loop for
 * 80-250 ms under load): the same document as in-process, the event loop free meanwhile, and a record too large for
 * the worker's heap refused as too costly without failing the render queued behind it.
 */

const CUSTODIAN: Organization = { resourceType: 'Organization', id: 'clinic', name: 'Test Clinic' };

function inputOf(count: number): CcdInput {
  const { patient, resources } = syntheticPatient(count);
  return {
    patient,
    resources: resources.filter((r) => r !== patient),
    custodian: CUSTODIAN,
    documentId: '5f0c3b5e-0d3c-4c52-9d8e-3f2b9d1c7a10',
    now: new Date('2026-12-07T12:00:00Z'),
  };
}

afterEach(() => stopCcdRenderWorker());

test('the worker renders the same XML, preview and XDM zip as the renderer in-process', async () => {
  const input = inputOf(300);
  const rendered = await renderCcdOffThread(input, { html: { timeZone: 'America/Chicago' }, xdm: { timeZone: 'America/Chicago' } });
  const xml = renderCcd(input);
  expect(rendered.xml).toBe(xml);
  expect(rendered.html).toBe(renderCcdHtml(xml, { timeZone: 'America/Chicago' }));
  const files = unzipSync(rendered.zip!);
  expect(strFromU8(files[XDM_PATHS.document])).toBe(xml);
  // Nothing asked, nothing rendered beyond the XML.
  const plain = await renderCcdOffThread(input);
  expect(plain).toEqual({ xml });
});

test('the event loop keeps turning while a large record renders', async () => {
  const input = inputOf(3000);
  let turns = 0;
  let rendering = true;
  const turn = (): void => {
    turns++;
    if (rendering) setImmediate(turn);
  };
  setImmediate(turn);
  const started = Date.now();
  await renderCcdOffThread(input);
  rendering = false;
  // In-process, the render would run between two turns: none would pass while it runs.
  expect(turns).toBeGreaterThan(2);
  expect(Date.now() - started).toBeGreaterThan(0);
}, 60_000);

test('a record that runs the worker out of memory is a 422 too-costly; the render queued behind it completes', async () => {
  const [huge, small] = await Promise.allSettled([renderCcdOffThread(inputOf(40_000), {}, 48), renderCcdOffThread(inputOf(50), {}, 48)]);
  expect(huge.status).toBe('rejected');
  const err = (huge as PromiseRejectedResult).reason as FhirError;
  expect(err).toBeInstanceOf(FhirError);
  expect(err.status).toBe(422);
  expect(err.outcome.issue[0].code).toBe('too-costly');
  expect(err.outcome.issue[0].details?.text).toContain('(48 MB)');
  expect(small.status).toBe('fulfilled');
  expect((small as PromiseFulfilledResult<{ xml: string }>).value.xml).toContain('<ClinicalDocument');
}, 120_000);
