/**
 * Worker thread body of renderCcdOffThread: renders one CCD per message, with its HTML preview and IHE XDM zip when
 * asked, the CPU- and allocation-heavy part of $ccda, $docref and $transmit, away from the thread that serves requests.
 */
import { parentPort } from 'node:worker_threads';
import { buildXdmZip, DEFAULT_ID_ROOT, renderCcd, renderCcdHtml, xdmMetaForCcd } from '../../ccda/render';
import type { RenderReply, RenderRequest } from './render-ccd-off-thread';

parentPort!.on('message', ({ id, input, html, xdm }: RenderRequest) => {
  // Said first, so that if this document runs the heap out, the document is known (worker-jobs.ts).
  parentPort!.postMessage({ id, started: true } satisfies RenderReply);
  let reply: RenderReply;
  try {
    const xml = renderCcd(input);
    reply = {
      id,
      xml,
      ...(html ? { html: renderCcdHtml(xml, html) } : {}),
      ...(xdm ? { zip: buildXdmZip(xml, xdmMetaForCcd(input, DEFAULT_ID_ROOT), xdm) } : {}),
    };
  } catch (err) {
    reply = { id, failure: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  parentPort!.postMessage(reply, reply.zip ? [reply.zip.buffer as ArrayBuffer] : []);
});
