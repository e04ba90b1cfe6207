/**
 * One batch of an export: the next resources of one type after the last id written, settled as a chunk
 * (export_chunk) that names the version of each resource its lines are, in one statement. The lines are read from
 * those versions when the file is downloaded (export-file.ts), so the export's data is read once, as it goes out: a
 * version is never changed, and the chunk fixes which versions the export holds, whatever is written meanwhile.
 */
import { type Kysely, sql } from 'kysely';
import { keptAccessScope } from '../../access/kept-access';
import { versionsJudgedOneByOne, versionVisibilityCondition, visibilityCondition } from '../../access/visibility';
import type { Tables } from '../../db/tables';
import type { ClaimedExport, ExportSnapshot } from './export-queue';

/** Where a type's export stands: the next chunk's number and the last id written. */
export interface TypePosition {
  readonly type: string;
  readonly chunkNo: number;
  readonly afterId: string;
}

/**
 * Rows and bytes per batch: a chunk's lines, which its download reads in one statement, stay a few megabytes, and a
 * statement well under the statement timeout.
 */
export const EXPORT_BATCH = Object.freeze({ rows: 5000, bytes: 8 * 1024 * 1024 });

/** Where a claimed export goes on: after its last committed chunk (the first type, from the start, when none). */
export async function resumePosition(db: Kysely<Tables>, job: ClaimedExport): Promise<TypePosition | undefined> {
  const { rows } = await sql<{ resource_type: string; chunk_no: number; last_id: string }>`
    select resource_type, chunk_no, last_id from export_chunk where job_id = ${job.id}
    order by array_position(${[...job.types]}::text[], resource_type) desc, chunk_no desc limit 1`.execute(db);
  const last = rows[0];
  if (!last) return job.types.length ? { type: job.types[0], chunkNo: 0, afterId: '' } : undefined;
  return { type: last.resource_type, chunkNo: last.chunk_no + 1, afterId: last.last_id };
}

/**
 * The position after a type is done: the next type that has resources (`present`, when known) from its start, or
 * undefined when the export is complete.
 */
export function nextType(job: ClaimedExport, type: string, present?: ReadonlySet<string>): TypePosition | undefined {
  const next = job.types.slice(job.types.indexOf(type) + 1).find((t) => !present || present.has(t));
  return next === undefined ? undefined : { type: next, chunkNo: 0, afterId: '' };
}

/**
 * The types the resource table holds rows of, found by skipping from one type to the next along its primary key (one
 * index probe per type), so an export does not spend a batch's transaction on each of the types it has none of.
 */
export async function typesPresent(db: Kysely<Tables>): Promise<Set<string>> {
  const { rows } = await sql<{ type: string }>`
    with recursive present(type) as (
      select min(resource_type) from resource
      union all
      select (select min(r.resource_type) from resource r where r.resource_type > present.type) from present where present.type is not null)
    select type from present where type is not null`.execute(db);
  return new Set(rows.map((row) => row.type));
}

/**
 * Writes the batch at `position` as a chunk: which resources, at which version, its lines are and how many bytes they
 * make; answers the lines, the last id covered, the patients whose records the lines are from and whether the type
 * has nothing after them (so no statement is spent finding that out), or undefined when the type has nothing left. The lines themselves are not read: the download reads them from the history
 * (export-file.ts), and a size is read from the stored value's header, so a batch costs a walk over the rows' keys.
 */
export async function writeBatch(
  trx: Kysely<Tables>,
  job: ExportSnapshot,
  position: TypePosition,
  batch: { rows: number; bytes: number } = EXPORT_BATCH,
): Promise<{ lines: number; lastId: string; patients: string[]; last: boolean } | undefined> {
  const { type, chunkNo, afterId } = position;
  const { rows } = await sql<{ lines: number; last_id: string; patients: string[]; last: boolean }>`
    with candidate as (${snapshotRows(job, type, afterId, batch.rows)}),
    sized as (
      select id, version, owners, bytes,
        coalesce(sum(bytes) over (order by id rows between unbounded preceding and 1 preceding), 0) as before
      from candidate),
    kept as (select id, version, owners, bytes from sized where before < ${batch.bytes}),
    chunk as (
      insert into export_chunk (job_id, resource_type, chunk_no, last_id, lines, bytes, ids, versions)
      select ${job.id}, ${type}, ${chunkNo}, max(id), count(version)::int, coalesce(sum(bytes), 0),
        coalesce(array_agg(id order by id) filter (where version is not null), '{}'),
        coalesce(array_agg(version order by id) filter (where version is not null), '{}')
      from kept
      having count(*) > 0
      returning lines, last_id)
    select chunk.lines, chunk.last_id,
      array(select distinct o from kept cross join unnest(kept.owners) as o where kept.version is not null and o not like 'Organization/%') as patients,
      (select count(*) from candidate) < ${batch.rows} and (select count(*) from candidate) = (select count(*) from kept) as last
    from chunk`.execute(trx);
  const row = rows[0];
  return row ? { lines: row.lines, lastId: row.last_id, patients: row.patients, last: row.last } : undefined;
}

/**
 * The next `limit` resources of `type` after `afterId`, in id order, each with the version it goes out as (null: not
 * in the export), that version's size with its newline, and its record's owners. Each resource is the version current
 * at the export's transactionTime: one changed or deleted since is read back from its history, one created since is
 * left out, as is one not changed after `_since`. The caller's access applies as in every search (visibility.ts),
 * SMART query scopes included;
 * export callers are staff and systems, whose view of a resource is the stored JSON itself.
 */
function snapshotRows(job: ExportSnapshot, type: string, afterId: string, limit: number) {
  const at = job.transactionTime;
  const since = job.since;
  const scope = keptAccessScope(job.access, `export ${job.id}`);
  const visible = visibilityCondition(scope, type, 'r');
  const conditions = [...(visible ? [visible] : []), ...(since ? [sql`r.last_updated > ${since}`] : []), ...levelConditions(job, 'r')];
  const versionVisible = versionVisibilityCondition(scope, type, 'h');
  // A SMART query scope is judged on a version's own content (fhir/version-filter.ts), which this statement does not
  // read: a resource of a filtered type changed since transactionTime is left out rather than sent as a version the
  // scope may not admit. A client catching up with `_since` = this export's transactionTime gets it then.
  const versionConditions = versionsJudgedOneByOne(scope, type)
    ? [sql`false`]
    : [...(versionVisible ? [versionVisible] : []), ...levelConditions(job, 'h')];
  // octet_length of a stored text reads its length from the value's header: the content is not fetched. The history
  // is looked into only for a resource changed since transactionTime (`r.last_updated > at` is checked once per row),
  // and its version of then goes out only if it, in the record it was in then, is in the export too.
  return sql`
    select id,
      case when changed is null ${since ? sql`or changed <= ${since}` : sql``} then null else version end as version,
      case when changed is null ${since ? sql`or changed <= ${since}` : sql``} then 0 else bytes end as bytes,
      owners
    from (
      select r.id,
        case when r.last_updated <= ${at} then r.version when old.deleted or not old.visible then null else old.version end as version,
        case when r.last_updated <= ${at} then octet_length(r.content) + 1 else octet_length(old.content) + 1 end as bytes,
        case when r.last_updated <= ${at} then r.last_updated when old.deleted or not old.visible then null else old.last_updated end as changed,
        case when r.last_updated <= ${at} then r.owners else old.owners end as owners
      from resource r
      left join lateral (
        select h.version, h.deleted, h.last_updated, h.owners, h.content,
          ${versionConditions.length ? sql`(${sql.join(versionConditions, sql` and `)})` : sql`true`} as visible
        from resource_history h
        where r.last_updated > ${at} and h.resource_type = r.resource_type and h.id = r.id and h.last_updated <= ${at}
        order by h.version desc limit 1) old on true
      where r.resource_type = ${type} and r.id > ${afterId} and (not r.deleted or r.last_updated > ${at})
        ${conditions.length ? sql`and ${sql.join(conditions, sql` and `)}` : sql``}
      order by r.id
      limit ${limit}) snapshot`;
}

/** A patient-level export: what is in a patient's record; a group export: in the record of one of the Group's patients. */
function levelConditions(job: ExportSnapshot, alias: 'r' | 'h') {
  const owners = sql.ref(`${alias}.owners`);
  if (job.level === 'group') return [sql`${owners} && ${[...(job.patientIds ?? [])]}::text[]`];
  if (job.level === 'patient')
    // A file kept outside every record has one owner, its uploader's key (record-owners.ts: isUploaderOwner).
    return [sql`cardinality(${owners}) > 0 and ${owners}[1] not like 'Organization/%'`];
  return [];
}
