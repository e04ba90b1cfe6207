import type { CcdInput } from '../../ccda/render';
import type { PreviewOptions } from '../../ccda/html/render-ccd-html';
import { clientError, serviceUnavailable } from '../../fhir/outcomes';
import { WorkerJobs } from '../../worker-jobs';

/** The old generation a render may use, in MB: a record of 1,000 resources renders in under 100 MB. */
export const DEFAULT_CCD_RENDER_HEAP_MB = 512;

/** What is rendered besides the XML: the HTML preview and the IHE XDM zip, each with its preview's options. */
export interface CcdOutputs {
  readonly html?: PreviewOptions;
  readonly xdm?: PreviewOptions;
}

/** One document to render, as the worker gets it, with the outputs wanted besides the XML. */
export interface RenderRequest extends CcdOutputs {
  readonly id: number;
  readonly input: CcdInput;
}

/** The worker's word on a request: `started` as it begins it, then the document (and what was asked with it) or why not. */
export interface RenderReply {
  readonly id: number;
  readonly started?: true;
  readonly xml?: string;
  readonly html?: string;
  readonly zip?: Uint8Array;
  readonly failure?: string;
}

/** A rendered CCD: the XML, and the preview and zip when they were asked for. */
export interface RenderedCcdFiles {
  readonly xml: string;
  readonly html?: string;
  readonly zip?: Uint8Array;
}

/** The render worker's thread; an idle one stops after 30 s. */
const renderWorker = new WorkerJobs<Omit<RenderRequest, 'id'>, RenderReply>({
  dir: __dirname,
  module: 'ccd-render-worker',
  callerFile: __filename,
  label: 'the C-CDA render worker',
  job: 'document',
  idleMs: 30_000,
});

/**
 * Renders a CCD (renderCcd), and its HTML preview (`html`) and IHE XDM zip (`xdm`) when asked, on a worker thread: a
 * patient's whole record renders in 4 ms on a quiet machine but held the event loop for 80-250 ms under a soak's load,
 * delaying every request behind it. A record that by itself runs the worker out of memory (`heapMb`) is a 422
 * (too-costly: a shorter period may render); a render lost with its worker twice through no fault of its own is a 503.
 */
export async function renderCcdOffThread(
  input: CcdInput,
  outputs: CcdOutputs = {},
  heapMb: number = DEFAULT_CCD_RENDER_HEAP_MB,
): Promise<RenderedCcdFiles> {
  const ending = await renderWorker.run({ input, ...outputs }, heapMb);
  if ('outOfMemory' in ending) {
    throw clientError(
      422,
      `The record is too large to render as one document within the memory a render may use (${heapMb} MB); ask for a shorter period (start, end)`,
      'too-costly',
    );
  }
  if ('lost' in ending) throw serviceUnavailable(`The server could not render the document just now (${ending.lost}); please retry`);
  const { reply } = ending;
  if (reply.failure !== undefined) throw new Error(`C-CDA render failed: ${reply.failure}`);
  return { xml: reply.xml!, ...(reply.html !== undefined ? { html: reply.html } : {}), ...(reply.zip ? { zip: reply.zip } : {}) };
}

/** Stops the render worker, if one runs (a server shutting down; tests). A document being rendered is sent once more to a new worker. */
export function stopCcdRenderWorker(): Promise<void> {
  return renderWorker.stop();
}
