/**
 * Works through the Bulk Data export queue (src/fhir/bulk-export/export-queue.ts), every second. Each instance runs it;
 * the claim is made under the job's advisory lock and holds the export under a lease, so an export is written by one
 * worker at a time and a worker that dies hands it on once its lease runs out. A run works for one time slice at most,
 * then gives its export back: a shutdown never waits on a long export, and the next run (here or on another instance)
 * goes on where it stopped. pg-boss and graphile-worker need a real PostgreSQL server (LISTEN/NOTIFY, their own
 * schema and connections), which the embedded PGlite cannot be for them; this queue is a table and the advisory lock
 * the other jobs already take.
 */
import { claimExport } from '../fhir/bulk-export/export-queue';
import { type ExportRunReport, runClaimedExport } from '../fhir/bulk-export/export-runner';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';

/** How long one run works on exports before giving them back (well inside the shutdown grace period). */
export const EXPORT_SLICE_MS = 5_000;

/** Files of a completed export are kept this long unless EXPORT_FILE_TTL_SECONDS says otherwise. */
export const DEFAULT_EXPORT_FILE_TTL_SECONDS = 24 * 60 * 60;

/** Runs due exports for one slice; undefined when another instance was claiming. */
export async function bulkExportJob(deps: JobDeps, options: { sliceMs?: number } = {}): Promise<ExportRunReport[] | undefined> {
  const sliceMs = options.sliceMs ?? EXPORT_SLICE_MS;
  const started = performance.now();
  const reports: ExportRunReport[] = [];
  for (;;) {
    const remaining = sliceMs - (performance.now() - started);
    if (remaining <= 0) return reports;
    const claim = await runUnderAdvisoryLock(deps.db, 'bulk-export', (trx) => claimExport(trx, deps.clock.now()));
    if (!claim.ran) return reports.length ? reports : undefined;
    if (!claim.result) return reports;
    const report = await runClaimedExport(deps.db, claim.result, deps.clock, {
      sliceMs: remaining,
      fileTtlSeconds: deps.exportFileTtlSeconds ?? DEFAULT_EXPORT_FILE_TTL_SECONDS,
    });
    if (report.failure) deps.logger?.warn({ export: report.id, outcome: report.outcome, reason: report.failure }, 'export batch failed');
    reports.push(report);
    // A job given back at the slice's end is not claimed again in this run.
    if (report.outcome === 'released') return reports;
  }
}
