/**
 * What a client of an export reads after the kick-off: the status (in progress with a progress text, failed, or the
 * manifest of its files), the files themselves, and the cancel. Only the requester sees an export, and only while
 * they still hold the access it was made with (a staff member moved to another practice no longer reads the files
 * of the first); to anyone else it does not exist (404), as for a resource they may not see. Expired exports are
 * gone even before the cleanup job deletes them.
 */
import { sql } from 'kysely';
import type { Caller } from '../../access/caller';
import { holdsKeptAccess } from '../../access/kept-access';
import { notFound } from '../outcomes';
import type { Repository } from '../repository';
import { exportFileChunks, exportFileText } from './export-file';
import { readStoredAgent } from './export-agent';

/** The Bulk Data completion manifest. */
export interface ExportManifest {
  readonly transactionTime: string;
  readonly request: string;
  readonly requiresAccessToken: true;
  readonly output: readonly { readonly type: string; readonly url: string; readonly count: number }[];
  readonly error: readonly never[];
}

/** Where an export stands, as its status URL tells it. */
export type ExportStatus =
  | { readonly state: 'in-progress'; readonly progress: string }
  | { readonly state: 'completed'; readonly manifest: ExportManifest; readonly expires: Date }
  | { readonly state: 'failed'; readonly reason: string };

/** An export file: its size and its text (or its bytes), a slice at a time. */
export interface ExportFile {
  readonly bytes: number;
  readonly lines: number;
  readonly expires: Date;
  readonly chunks: AsyncIterable<string | Buffer>;
}

interface JobRow {
  id: string;
  requester: string;
  agent: unknown;
  unrestricted: boolean;
  organization_id: string | null;
  allowed_types: string[] | null;
  types: string[];
  status: string;
  error: string | null;
  attempts: number;
  transaction_time: Date;
  request_url: string;
  expires_at: Date | null;
}

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The URL of an export's status (the kick-off's Content-Location). */
export function exportStatusUrl(fhirBase: string, id: string): string {
  return `${fhirBase}/bulk-export/${id}`;
}

/** The status of export `id` for its requester. */
export async function exportStatus(repo: Repository, caller: Caller, id: string): Promise<ExportStatus> {
  const job = await ownJob(repo, caller, id);
  if (job.status === 'failed') return { state: 'failed', reason: job.error ?? 'The export failed' };
  const { rows } = await sql<{ resource_type: string; lines: number }>`
    select resource_type, sum(lines)::int as lines from export_chunk where job_id = ${id} group by resource_type`.execute(repo.db);
  const counts = new Map(rows.map((row) => [row.resource_type, row.lines]));
  if (job.status === 'completed') {
    const fhirBase = repo.context.fhirBase;
    const output = job.types
      .filter((type) => (counts.get(type) ?? 0) > 0)
      .map((type) => ({ type, url: `${exportStatusUrl(fhirBase, id)}/${type}.ndjson`, count: counts.get(type) as number }));
    const manifest: ExportManifest = {
      transactionTime: new Date(job.transaction_time).toISOString(),
      request: job.request_url,
      requiresAccessToken: true,
      output,
      error: [],
    };
    return { state: 'completed', manifest, expires: new Date(job.expires_at as Date) };
  }
  if (job.status === 'queued') return { state: 'in-progress', progress: 'queued' };
  const written = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const current = job.types.filter((type) => counts.has(type)).pop();
  const typeNo = current ? job.types.indexOf(current) + 1 : 1;
  const retrying = job.error && job.attempts > 0 ? ` (retrying after ${job.attempts} failure(s))` : '';
  return {
    state: 'in-progress',
    progress: `${written} resources written; type ${typeNo} of ${job.types.length}${current ? ` (${current})` : ''}${retrying}`,
  };
}

/** Cancels export `id` (or deletes a finished one's files): the job and its files are deleted. */
export async function cancelExport(repo: Repository, caller: Caller, id: string): Promise<void> {
  await ownJob(repo, caller, id);
  await repo.db.deleteFrom('export_job').where('id', '=', id).execute();
}

/** The ndjson file of `type` of completed export `id`. */
export async function openExportFile(repo: Repository, caller: Caller, id: string, type: string): Promise<ExportFile> {
  const job = await ownJob(repo, caller, id);
  const missing = () => notFound(`File ${type}.ndjson of export ${id}`);
  if (job.status !== 'completed' || !job.types.includes(type)) throw missing();
  const chunks = await exportFileChunks(repo.db, id, type);
  const lines = chunks.reduce((sum, chunk) => sum + chunk.lines, 0);
  if (!lines) throw missing();
  return {
    bytes: chunks.reduce((sum, chunk) => sum + chunk.bytes, 0),
    lines,
    expires: new Date(job.expires_at as Date),
    chunks: exportFileText(repo.db, repo.context.databaseKind, id, type, chunks),
  };
}

async function ownJob(repo: Repository, caller: Caller, id: string): Promise<JobRow> {
  const missing = notFound(`Export ${id.slice(0, 64)}`);
  if (!JOB_ID.test(id)) throw missing;
  const { rows } = await sql<JobRow>`
    select id, requester, agent, unrestricted, organization_id, allowed_types, types, status, error, attempts, transaction_time,
      request_url, expires_at
    from export_job where id = ${id}`.execute(repo.db);
  const job = rows[0];
  if (!job || job.requester !== caller.subject) throw missing;
  const access = {
    unrestricted: job.unrestricted,
    organizationId: job.organization_id,
    allowedTypes: job.allowed_types,
    resourceFilters: readStoredAgent(job.agent).resourceFilters,
  };
  if (caller.kind === 'user' || !holdsKeptAccess(repo.context.scope, access)) throw missing;
  if (job.expires_at && new Date(job.expires_at).getTime() <= repo.context.clock.now().getTime()) throw missing;
  return job;
}
