import type { Worker } from 'node:worker_threads';
import { CcdaParseError, type CcdaImportResult, type CcdaParseErrorCode } from '../../ccda/parse';
import { startWorker } from '../../start-worker';

/** One document to parse, as the worker gets it. */
export interface ParseRequest {
  readonly id: number;
  readonly xml: string | Uint8Array;
  readonly maxBytes?: number;
}

/** The worker's answer: the result, the CcdaParseError it threw, or another failure. */
export interface ParseReply {
  readonly id: number;
  readonly result?: CcdaImportResult;
  readonly parseError?: { readonly code: CcdaParseErrorCode; readonly message: string; readonly line: number; readonly column: number };
  readonly failure?: string;
}

/**
 * The worker's heap limit: a document within the limits (20 MB, 200,000 elements) parses in a few hundred MB; a
 * parse that needs more ends the worker (not the server) and the document is refused as too large to import.
 */
const WORKER_HEAP_MB = 768;

/** An idle parse worker stops after this long: its isolate holds 100-200 MB that an idle server should not. */
const IDLE_MS = 30_000;

let worker: Worker | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let nextId = 1;
const pending = new Map<number, { resolve: (reply: ParseReply) => void; reject: (err: Error) => void }>();

/**
 * Parses a C-CDA document (parseCcda) on a worker thread, so the event loop keeps serving other requests while a
 * 20 MB document is read (it was held 5-14 s), with the worker's memory bounded. Throws what parseCcda throws;
 * a worker that runs out of memory is a CcdaParseError 'too-large'.
 */
export async function parseCcdaOffThread(xml: string | Buffer, maxBytes?: number): Promise<CcdaImportResult> {
  const id = nextId++;
  clearTimeout(idleTimer);
  const reply = await new Promise<ParseReply>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    const data = typeof xml === 'string' ? xml : new Uint8Array(xml.buffer, xml.byteOffset, xml.byteLength);
    theWorker().postMessage({ id, xml: data, maxBytes } satisfies ParseRequest);
  }).finally(stopWhenIdle);
  if (reply.parseError) {
    const { code, message, line, column } = reply.parseError;
    // The message already carries the line and column; the error is rebuilt as parseCcda threw it.
    const err = new CcdaParseError(code, message);
    return Promise.reject(Object.assign(err, { line, column }));
  }
  if (reply.failure !== undefined) throw new Error(`C-CDA parse failed: ${reply.failure}`);
  return reply.result!;
}

/** The parse worker, started on first use; unref'd so an idle one keeps no process alive. */
function theWorker(): Worker {
  if (worker) return worker;
  const started = startWorker(__dirname, 'ccda-parse-worker', __filename, { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
  started.unref();
  started.on('message', (reply: ParseReply) => {
    const waiting = pending.get(reply.id);
    pending.delete(reply.id);
    waiting?.resolve(reply);
  });
  const fail = (err: Error): void => {
    if (worker === started) worker = undefined; // the next document gets a new worker
    const tooLarge = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
    for (const [id, waiting] of pending) {
      pending.delete(id);
      waiting.reject(tooLarge ? new CcdaParseError('too-large', 'The document needs more memory to import than an import may use') : err);
    }
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`the C-CDA parse worker exited (${code})`)));
  worker = started;
  return started;
}

function stopWhenIdle(): void {
  if (pending.size || !worker) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (!pending.size) void stopCcdaParseWorker();
  }, IDLE_MS);
  idleTimer.unref();
}

/** Stops the parse worker, if one runs (a server shutting down; an idle one; tests). */
export async function stopCcdaParseWorker(): Promise<void> {
  const running = worker;
  worker = undefined;
  if (running) await running.terminate();
}
