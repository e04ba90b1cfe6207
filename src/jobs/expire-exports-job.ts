/** Deletes Bulk Data exports whose files have expired (EXPORT_FILE_TTL_SECONDS after completion), with their files. */
import { deleteExpiredExports } from '../fhir/bulk-export/export-queue';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';

/** Deletes expired exports; answers how many, or undefined when another instance ran it. */
export async function expireExportsJob(deps: JobDeps): Promise<number | undefined> {
  const run = await runUnderAdvisoryLock(deps.db, 'expire-exports', (trx) => deleteExpiredExports(trx, deps.clock.now()));
  return run.ran ? run.result : undefined;
}
