/**
 * One batch of an export: the next resources of one type after the last id written, as ndjson lines, in one
 * statement that reads them and stores them as a chunk (export_chunk) without the lines passing through this process.
 * Each resource is the version current at the export's transactionTime: one changed or deleted since is read back
 * from its history, one created since is left out. The caller's access applies as in every search (visibility.ts);
 * export callers are staff and systems, whose view of a resource is the stored JSON itself.
 */
import { type Kysely, sql } from 'kysely';
import { exportScope } from '../../access/export-scope';
import { visibilityCondition } from '../../access/visibility';
import type { Tables } from '../../db/tables';
import type { ClaimedExport } from './export-queue';

/** Where a type's export stands: the next chunk's number and the last id written. */
export interface TypePosition {
  readonly type: string;
  readonly chunkNo: number;
  readonly afterId: string;
}

/** Rows and bytes per batch: a chunk stays a few megabytes, a statement well under the statement timeout. */
export const EXPORT_BATCH = Object.freeze({ rows: 1000, bytes: 4 * 1024 * 1024 });

/** Where a claimed export goes on: after its last committed chunk (the first type, from the start, when none). */
export async function resumePosition(db: Kysely<Tables>, job: ClaimedExport): Promise<TypePosition | undefined> {
  const { rows } = await sql<{ resource_type: string; chunk_no: number; last_id: string }>`
    select resource_type, chunk_no, last_id from export_chunk where job_id = ${job.id}
    order by array_position(${[...job.types]}::text[], resource_type) desc, chunk_no desc limit 1`.execute(db);
  const last = rows[0];
  if (!last) return job.types.length ? { type: job.types[0], chunkNo: 0, afterId: '' } : undefined;
  return { type: last.resource_type, chunkNo: last.chunk_no + 1, afterId: last.last_id };
}

/** The position after a type is done: the next type from its start, or undefined when the export is complete. */
export function nextType(job: ClaimedExport, type: string): TypePosition | undefined {
  const next = job.types[job.types.indexOf(type) + 1];
  return next === undefined ? undefined : { type: next, chunkNo: 0, afterId: '' };
}

/**
 * Writes the batch at `position` as a chunk; answers the lines written, the last id covered and the patients whose
 * records the lines are from, or undefined when the type has nothing left.
 */
export async function writeBatch(
  trx: Kysely<Tables>,
  job: ClaimedExport,
  position: TypePosition,
  batch: { rows: number; bytes: number } = EXPORT_BATCH,
): Promise<{ lines: number; lastId: string; patients: string[] } | undefined> {
  const { type, chunkNo, afterId } = position;
  const at = job.transactionTime;
  const since = job.since;
  const visible = visibilityCondition(exportScope(job.access, `export ${job.id}`), type, 'r');
  const conditions = [...(visible ? [visible] : []), ...(since ? [sql`r.last_updated > ${since}`] : []), ...levelConditions(job)];
  const { rows } = await sql<{ lines: number; last_id: string; patients: string[] }>`
    with candidate as (
      select r.id,
        case when r.last_updated <= ${at} then r.content when old.deleted then null else old.content end as line,
        case when r.last_updated <= ${at} then r.last_updated else old.last_updated end as changed,
        case when r.last_updated <= ${at} then r.owners else old.owners end as owners
      from resource r
      left join lateral (
        select h.content, h.deleted, h.last_updated, h.owners from resource_history h
        where r.last_updated > ${at} and h.resource_type = r.resource_type and h.id = r.id and h.last_updated <= ${at}
        order by h.version desc limit 1) old on true
      where r.resource_type = ${type} and r.id > ${afterId} and (not r.deleted or r.last_updated > ${at})
        ${conditions.length ? sql`and ${sql.join(conditions, sql` and `)}` : sql``}
      order by r.id
      limit ${batch.rows}),
    sized as (
      select id, owners, case when changed is null ${since ? sql`or changed <= ${since}` : sql``} then null else line end as line,
        coalesce(sum(octet_length(line)) over (order by id rows between unbounded preceding and 1 preceding), 0) as before
      from candidate),
    kept as (select id, owners, line from sized where before < ${batch.bytes}),
    chunk as (
      insert into export_chunk (job_id, resource_type, chunk_no, last_id, lines, content)
      select ${job.id}, ${type}, ${chunkNo}, max(id), count(line)::int, coalesce(string_agg(line, E'\n' order by id) || E'\n', '')
      from kept
      having count(*) > 0
      returning lines, last_id)
    select chunk.lines, chunk.last_id,
      array(select distinct o from kept cross join unnest(kept.owners) as o where kept.line is not null and o not like 'Organization/%') as patients
    from chunk`.execute(trx);
  const row = rows[0];
  return row ? { lines: row.lines, lastId: row.last_id, patients: row.patients } : undefined;
}

/** A patient-level export: what is in a patient's record; a group export: in the record of one of the Group's patients. */
function levelConditions(job: ClaimedExport) {
  if (job.level === 'group') return [sql`r.owners && ${[...(job.patientIds ?? [])]}::text[]`];
  if (job.level === 'patient')
    // A file kept outside every record has one owner, its uploader's key (record-owners.ts: isUploaderOwner).
    return [sql`cardinality(r.owners) > 0 and r.owners[1] not like 'Organization/%'`];
  return [];
}
