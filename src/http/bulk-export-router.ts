/**
 * The Bulk Data status and file URLs under /fhir/bulk-export (the kick-off is the `$export` operation): GET the
 * status (202 with X-Progress and Retry-After while it runs, 200 with the manifest, 500 with an OperationOutcome when
 * it failed), DELETE to cancel, and GET each ndjson file, streamed a chunk at a time with the socket's backpressure.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import { type Response, Router } from 'express';
import type { Caller } from '../access/caller';
import { cancelExport, exportStatus, openExportFile } from '../fhir/bulk-export/export-status';
import { notFound } from '../fhir/outcomes';
import type { Repository } from '../fhir/repository';
import { asyncHandler } from './async-handler';
import { FHIR_JSON } from './fhir-response';

/** Seconds a client is asked to wait between polls of a running export. */
export const EXPORT_POLL_SECONDS = 2;

/** The status, cancel and file routes; `repoOf` gives the request's repository. */
export function bulkExportRouter(repoOf: (res: Response) => Repository): Router {
  const router = Router();
  const callerOf = (res: Response) => res.locals.caller as Caller;

  router.get(
    '/:id',
    asyncHandler(async (req, res) => {
      const status = await exportStatus(repoOf(res), callerOf(res), req.params.id);
      if (status.state === 'in-progress') {
        res.setHeader('X-Progress', status.progress);
        res.setHeader('Retry-After', String(EXPORT_POLL_SECONDS));
        res.status(202).end();
      } else if (status.state === 'completed') {
        res.setHeader('Expires', status.expires.toUTCString());
        res.status(200).type('application/json').send(JSON.stringify(status.manifest));
      } else {
        res
          .status(500)
          .type(FHIR_JSON)
          .send(JSON.stringify(outcome('error', 'exception', status.reason)));
      }
    }),
  );

  router.delete(
    '/:id',
    asyncHandler(async (req, res) => {
      await cancelExport(repoOf(res), callerOf(res), req.params.id);
      res
        .status(202)
        .type(FHIR_JSON)
        .send(JSON.stringify(outcome('information', 'informational', 'The export was cancelled and its files deleted')));
    }),
  );

  router.get(
    '/:id/:file',
    asyncHandler(async (req, res) => {
      const type = /^([A-Za-z]{1,64})\.ndjson$/.exec(req.params.file)?.[1];
      if (!type) throw notFound(`File ${req.params.file.slice(0, 80)} of export ${req.params.id.slice(0, 64)}`);
      const file = await openExportFile(repoOf(res), callerOf(res), req.params.id, type);
      res.status(200);
      res.setHeader('Content-Type', 'application/fhir+ndjson');
      res.setHeader('Content-Length', String(file.bytes));
      res.setHeader('Expires', file.expires.toUTCString());
      try {
        for await (const chunk of file.chunks) {
          if (res.destroyed) return;
          if (!res.write(chunk)) await drainedOrClosed(res);
        }
      } catch (err) {
        // Part of the file is sent: the connection is cut so the client sees a short file as a failure, not as the end.
        res.destroy();
        throw err;
      }
      res.end();
    }),
  );

  return router;
}

/** Resolves when the response can take more, or is gone; leaves no listener behind. */
function drainedOrClosed(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function outcome(severity: 'error' | 'information', code: 'exception' | 'informational', text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}
