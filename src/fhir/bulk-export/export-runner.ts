/**
 * Runs a claimed export (export-queue.ts) batch after batch (export-batch.ts) for one time slice: a transaction
 * commits one batch's chunk (or those of several small types) and renews the lease, so whatever stops the worker (the
 * slice's end, a crash, a restart) loses at most the transaction in flight, and whoever takes the job next goes on
 * after the last chunk. Between statements the event loop gets its turn: an export never holds other requests for
 * more than one statement.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { AuditEventAgent } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/tables';
import type { AuditEntry } from '../audit/audit-log';
import { appendAudit } from '../audit/audit-log';
import type { Clock } from '../clock';
import { EXPORT_BATCH, nextType, resumePosition, type TypePosition, typesPresent, writeBatch } from './export-batch';
import { type ClaimedExport, completeExport, ExportLeaseLost, recordExportFailure, releaseExport, renewLease } from './export-queue';

/** The most batch statements one transaction runs (types with few lines, or lines the requester may not see, share one). */
const STEP_STATEMENTS = 20;

/** How one slice of an export's run ended. */
export type ExportRunOutcome = 'completed' | 'released' | 'retrying' | 'failed' | 'lost';

/** What one slice of an export's run did. */
export interface ExportRunReport {
  readonly id: string;
  readonly outcome: ExportRunOutcome;
  readonly batches: number;
  readonly lines: number;
  /** Why the slice failed (logged; the client is told a generic reason). */
  readonly failure?: string;
}

/** How long a slice runs, how long files are kept once complete, and the batch size. */
export interface ExportRunOptions {
  readonly sliceMs: number;
  readonly fileTtlSeconds: number;
  readonly batch?: { readonly rows: number; readonly bytes: number };
}

/** Runs `job` until it is complete or the slice is over; never throws for the job's own failures. */
export async function runClaimedExport(
  db: Kysely<Tables>,
  job: ClaimedExport,
  clock: Clock,
  options: ExportRunOptions,
): Promise<ExportRunReport> {
  const started = performance.now();
  const expiry = () => new Date(clock.now().getTime() + options.fileTtlSeconds * 1000);
  let batches = 0;
  let lines = 0;
  const report = (outcome: ExportRunOutcome, failure?: string): ExportRunReport => ({ id: job.id, outcome, batches, lines, failure });
  try {
    const present = await typesPresent(db);
    let position: TypePosition | undefined = await resumePosition(db, job);
    if (position && position.chunkNo === 0 && !present.has(position.type)) position = nextType(job, position.type, present);
    while (position) {
      if (performance.now() - started >= options.sliceMs) {
        await releaseExport(db, job);
        return report('released');
      }
      const from: TypePosition = position;
      const batch = options.batch ?? EXPORT_BATCH;
      // Batches of small types share a transaction until it holds a batch's worth of lines: an export of many types
      // with few resources each does not pay a commit, a lease renewal and an audit insert per type.
      const step = await db.transaction().execute(async (trx) => {
        await renewLease(trx, job, clock.now());
        let at: TypePosition | undefined = from;
        let stepLines = 0;
        let stepBatches = 0;
        const patients = new Set<string>();
        for (let statements = 0; at && stepLines < batch.rows && statements < STEP_STATEMENTS; statements++) {
          const written = await writeBatch(trx, job, at, batch);
          if (!written) {
            at = nextType(job, at.type, present);
            continue;
          }
          stepBatches += 1;
          stepLines += written.lines;
          for (const patient of written.patients) patients.add(patient);
          at = written.last ? nextType(job, at.type, present) : { type: at.type, chunkNo: at.chunkNo + 1, afterId: written.lastId };
        }
        // Recorded with the batches: no line is settled for the requester unless its access is recorded too.
        if (patients.size && job.agent) await appendAudit(trx, exportAccesses(job.agent, [...patients], clock.now()));
        return { at, lines: stepLines, batches: stepBatches };
      });
      batches += step.batches;
      lines += step.lines;
      position = step.at;
      await nextTurn();
    }
    await completeExport(db, job, clock.now(), expiry());
    return report('completed');
  } catch (err) {
    if (err instanceof ExportLeaseLost) return report('lost');
    const failure = err instanceof Error ? err.message : String(err);
    const attempts = batches > 0 ? 1 : job.attempts + 1;
    const reason = `The export failed ${attempts} time(s) in a row on an internal error; the server's log has the cause`;
    const final = await recordExportFailure(db, job, { reason, attempts }, clock.now(), expiry()).catch(() => false);
    return report(final ? 'failed' : 'retrying', failure);
  }
}

/** One access per patient whose record a batch exported: the export, by its requester (named by the Patient alone). */
function exportAccesses(agent: AuditEventAgent, patients: readonly string[], now: Date): AuditEntry[] {
  return patients.map((patientId) => ({
    patientId,
    agent,
    interaction: 'operation',
    operation: '$export',
    resources: [`Patient/${patientId}`],
    recorded: now,
  }));
}
