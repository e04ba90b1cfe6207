import { CcdaParseError, type CcdaImportResult, type CcdaParseErrorCode } from '../../ccda/parse';
import { DEFAULT_CCDA_PARSE_HEAP_MB } from '../../config';
import { WorkerJobs } from '../../worker-jobs';

/** One document to parse, as the worker gets it. */
export interface ParseRequest {
  readonly id: number;
  readonly xml: string | Uint8Array;
  readonly maxBytes?: number;
}

/**
 * The worker's word on a request: `started` as it begins parsing it (so a worker that runs out of memory is known to
 * have done so on that document), then the result, the CcdaParseError it threw, or another failure.
 */
export interface ParseReply {
  readonly id: number;
  readonly started?: true;
  readonly result?: CcdaImportResult;
  readonly parseError?: { readonly code: CcdaParseErrorCode; readonly message: string; readonly line: number; readonly column: number };
  readonly failure?: string;
}

/**
 * The parse worker's thread. An idle one stops after 30 s: its isolate holds 100-200 MB that an idle server should not.
 */
const parseWorker = new WorkerJobs<Omit<ParseRequest, 'id'>, ParseReply>({
  dir: __dirname,
  module: 'ccda-parse-worker',
  callerFile: __filename,
  label: 'the C-CDA parse worker',
  job: 'document',
  idleMs: 30_000,
});

/**
 * The parse worker stopped before it answered, through no fault of this document (another document ran it out of
 * memory, it was stopped, it could not start), and again on the one retry: the server is short of resources, and the
 * client may send the document again (a 503). Nothing was imported.
 */
export class ParseWorkerLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseWorkerLost';
  }
}

/**
 * Parses a C-CDA document (parseCcda) on a worker thread, so the event loop keeps serving other requests while a
 * 20 MB document is read (it was held 5-14 s), with the worker's heap held to `heapMb`. Throws what parseCcda throws;
 * a document that by itself runs the worker out of memory is a CcdaParseError 'too-large' naming the limit. A document
 * lost with its worker through no fault of its own is parsed again once on a new worker; lost again, it is a
 * ParseWorkerLost.
 */
export async function parseCcdaOffThread(
  xml: string | Buffer,
  maxBytes?: number,
  heapMb: number = DEFAULT_CCDA_PARSE_HEAP_MB,
): Promise<CcdaImportResult> {
  const data = typeof xml === 'string' ? xml : new Uint8Array(xml.buffer, xml.byteOffset, xml.byteLength);
  const ending = await parseWorker.run({ xml: data, maxBytes }, heapMb);
  if ('outOfMemory' in ending) {
    throw new CcdaParseError(
      'too-large',
      `The document needs more memory to import than one import may use (${heapMb} MB, CCDA_PARSE_HEAP_MB); nothing was imported`,
    );
  }
  if ('lost' in ending) {
    throw new ParseWorkerLost(
      `The server could not parse the document just now (${ending.lost}); nothing was imported. Please send it again`,
    );
  }
  const { reply } = ending;
  if (reply.parseError) {
    const { code, message, line, column } = reply.parseError;
    // The message already carries the line and column; the error is rebuilt as parseCcda threw it.
    const err = new CcdaParseError(code, message);
    throw Object.assign(err, { line, column });
  }
  if (reply.failure !== undefined) throw new Error(`C-CDA parse failed: ${reply.failure}`);
  return reply.result!;
}

/**
 * Stops the parse workers, if any run (an idle one; a server shutting down; tests). A document still being parsed is
 * sent once more to a new worker, as one lost any other way.
 */
export function stopCcdaParseWorker(): Promise<void> {
  return parseWorker.stop();
}
