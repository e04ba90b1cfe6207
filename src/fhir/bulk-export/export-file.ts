/**
 * An export file's text, read as it is downloaded: each chunk (export-batch.ts) names the versions its lines are, and
 * one statement per chunk reads those versions from the resource history and joins them into ndjson, so the file goes
 * out in one pass over the data with no copy of it kept. Versions are never changed, so every download of a file is
 * the same bytes, and its size is known before the first one is read.
 */
import { type Kysely, sql } from 'kysely';
import type { Tables } from '../../db/tables';

/**
 * A file's lines a chunk at a time, in order, one statement each, so no statement holds a whole file. The next chunk
 * is read while the one before is being sent: the database and the network take turns less.
 */
export async function* exportFileChunks(db: Kysely<Tables>, jobId: string, type: string): AsyncGenerator<string> {
  const { rows: chunks } = await sql<{ chunk_no: number }>`
    select chunk_no from export_chunk where job_id = ${jobId} and resource_type = ${type} and lines > 0 order by chunk_no`.execute(db);
  let next = chunks.length ? readChunk(db, jobId, type, chunks[0].chunk_no) : undefined;
  for (let i = 0; next; i++) {
    const text = await next;
    next = i + 1 < chunks.length ? readChunk(db, jobId, type, chunks[i + 1].chunk_no) : undefined;
    yield text;
  }
}

/** One chunk's lines (a promise that a download given up mid-way may leave unawaited without an unhandled rejection). */
function readChunk(db: Kysely<Tables>, jobId: string, type: string, chunkNo: number): Promise<string> {
  const text = (async () => {
    const { rows } = await sql<{ lines: number; found: number; content: string | null }>`
      select c.lines, v.found, v.content
      from export_chunk c
      cross join lateral (
        select count(h.id)::int as found, string_agg(h.content, E'\\n' order by u.n) as content
        from unnest(c.ids, c.versions) with ordinality as u(id, version, n)
        join resource_history h on h.resource_type = c.resource_type and h.id = u.id and h.version = u.version) v
      where c.job_id = ${jobId} and c.resource_type = ${type} and c.chunk_no = ${chunkNo}`.execute(db);
    const row = rows[0];
    // A version is never deleted, nor an export's chunk while it is kept; were either gone, the file would be short of
    // its Content-Length: stop rather than send less than was announced.
    if (!row || row.found !== row.lines) throw new Error(`Export ${jobId}: a chunk of ${type} or its versions are gone`);
    return `${row.content ?? ''}\n`;
  })();
  void text.catch(() => undefined);
  return text;
}
