/**
 * The export queue: `export_job` rows taken in order under a lease. A job is claimed by one worker at a time (on any
 * instance); the worker renews its lease with every batch it commits, and gives the job back when its time slice is
 * over, so a long export moves between instances without being run twice. A worker that dies keeps the lease until
 * it runs out; then another takes the job over and goes on after its last committed batch (export-batch.ts). A failing
 * batch is retried with backoff; after `EXPORT_RETRY.failAfter` failures in a row the export fails with the reason.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEventAgent } from '@medplum/fhirtypes';
import { type Kysely, sql } from 'kysely';
import type { KeptAccess } from '../../access/kept-access';
import type { Tables } from '../../db/tables';
import { readStoredAgent } from './export-agent';
import type { ExportLevel } from './export-kickoff';

/** How long a claimed job is held without a committed batch before another worker may take it over. */
export const EXPORT_LEASE_SECONDS = 60;

/** Retries of a failing export: the delay doubles from `baseSeconds`; `failAfter` failures in a row fail the export. */
export const EXPORT_RETRY = Object.freeze({ baseSeconds: 5, maxSeconds: 300, failAfter: 5 });

/** What an export holds: whose access, which level and types, changed since when, as at which time. */
export interface ExportSnapshot {
  readonly id: string;
  readonly access: KeptAccess;
  readonly level: ExportLevel;
  readonly patientIds: readonly string[] | null;
  readonly types: readonly string[];
  readonly since: Date | null;
  readonly transactionTime: Date;
}

/** An export a worker holds, with the lease token that proves it still does. */
export interface ClaimedExport extends ExportSnapshot {
  readonly token: string;
  readonly requester: string;
  /** Whom the export's audit records name (undefined: none are written). */
  readonly agent?: AuditEventAgent;
  readonly attempts: number;
}

/** The worker no longer holds the job: it was cancelled, or another worker took it over. */
export class ExportLeaseLost extends Error {
  constructor(id: string) {
    super(`Export ${id} is no longer held by this worker`);
  }
}

interface JobRow {
  id: string;
  requester: string;
  agent: AuditEventAgent | string | null;
  unrestricted: boolean;
  organization_id: string | null;
  allowed_types: string[] | null;
  level: string;
  patient_ids: string[] | null;
  types: string[];
  since: Date | null;
  transaction_time: Date;
  attempts: number;
}

/** Claims the oldest export that is due and held by nobody; undefined when there is none. */
export async function claimExport(db: Kysely<Tables>, now: Date): Promise<ClaimedExport | undefined> {
  const token = randomUUID();
  const until = leaseEnd(now);
  const { rows } = await sql<JobRow>`
    update export_job j set status = 'running', lease_until = ${until}, lease_token = ${token}
    where j.id = (
      select c.id from export_job c
      where c.status in ('queued', 'running') and c.next_attempt_at <= ${now} and (c.lease_until is null or c.lease_until <= ${now})
      order by c.next_attempt_at, c.id
      limit 1
      for update skip locked)
    returning j.id, j.requester, j.agent, j.unrestricted, j.organization_id, j.allowed_types, j.level, j.patient_ids, j.types, j.since,
      j.transaction_time, j.attempts`.execute(db);
  const row = rows[0];
  if (!row) return undefined;
  const stored = readStoredAgent(row.agent);
  return {
    id: row.id,
    token,
    requester: row.requester,
    ...(stored.agent ? { agent: stored.agent } : {}),
    access: {
      unrestricted: row.unrestricted,
      organizationId: row.organization_id,
      allowedTypes: row.allowed_types,
      resourceFilters: stored.resourceFilters,
    },
    level: row.level as ExportLevel,
    patientIds: row.patient_ids,
    types: row.types,
    since: row.since === null ? null : new Date(row.since),
    transactionTime: new Date(row.transaction_time),
    attempts: row.attempts,
  };
}

/**
 * Renews the lease inside a batch's transaction; throws ExportLeaseLost when the worker no longer holds the job. The
 * transaction then commits without waiting for its WAL to reach the disk (synchronous_commit off, for it alone): a
 * batch a crash loses is written again by the next claimer, and the export's completion, committed as usual, flushes
 * every batch before it, so no file is served before its lines are durable.
 */
export async function renewLease(trx: Kysely<Tables>, job: ClaimedExport, now: Date): Promise<void> {
  const { rows } = await sql<{ held: number }>`
    with renewed as (
      update export_job set lease_until = ${leaseEnd(now)}
      where id = ${job.id} and lease_token = ${job.token} and status = 'running' returning id)
    select count(*)::int as held, set_config('synchronous_commit', 'off', true) as commit_mode from renewed`.execute(trx);
  if (!rows[0]?.held) throw new ExportLeaseLost(job.id);
}

/** Gives a job back unfinished (the time slice is over): any worker may go on with it at once. */
export async function releaseExport(db: Kysely<Tables>, job: ClaimedExport): Promise<void> {
  await sql`update export_job set lease_until = null, lease_token = null, attempts = 0
    where id = ${job.id} and lease_token = ${job.token}`.execute(db);
}

/** Marks a job completed; its files are kept until `expiresAt`. */
export async function completeExport(db: Kysely<Tables>, job: ClaimedExport, now: Date, expiresAt: Date): Promise<void> {
  await sql`update export_job set status = 'completed', finished_at = ${now}, expires_at = ${expiresAt}, lease_until = null,
      lease_token = null, error = null
    where id = ${job.id} and lease_token = ${job.token}`.execute(db);
}

/**
 * Records a failed attempt: the job is retried after a backoff, or, after too many failures in a row, fails with the
 * reason (its partial files are deleted; the failure is told until `expiresAt`). `attempts` counts the failures in a
 * row, this one included. Answers whether it failed for good.
 */
export async function recordExportFailure(
  db: Kysely<Tables>,
  job: ClaimedExport,
  failure: { readonly reason: string; readonly attempts: number },
  now: Date,
  expiresAt: Date,
): Promise<boolean> {
  const { reason, attempts } = failure;
  const final = attempts >= EXPORT_RETRY.failAfter;
  await db.transaction().execute(async (trx) => {
    const retryAt = new Date(now.getTime() + retryDelaySeconds(attempts) * 1000);
    const { rows } = await sql<{ id: string }>`
      update export_job set attempts = ${attempts}, lease_until = null, lease_token = null,
        ${final ? sql`status = 'failed', error = ${reason}, finished_at = ${now}, expires_at = ${expiresAt}` : sql`next_attempt_at = ${retryAt}, error = ${reason}`}
      where id = ${job.id} and lease_token = ${job.token} returning id`.execute(trx);
    if (final && rows.length) await trx.deleteFrom('export_chunk').where('job_id', '=', job.id).execute();
  });
  return final;
}

/** The delay before the next try after `failures` failures in a row. */
export function retryDelaySeconds(failures: number): number {
  return Math.min(EXPORT_RETRY.baseSeconds * 2 ** Math.max(failures - 1, 0), EXPORT_RETRY.maxSeconds);
}

/** Deletes exports whose files have expired, with their files; answers how many. */
export async function deleteExpiredExports(db: Kysely<Tables>, now: Date): Promise<number> {
  const { rows } = await sql<{ id: string }>`delete from export_job where expires_at <= ${now} returning id`.execute(db);
  return rows.length;
}

function leaseEnd(now: Date): Date {
  return new Date(now.getTime() + EXPORT_LEASE_SECONDS * 1000);
}
