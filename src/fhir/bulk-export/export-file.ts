/**
 * An export file's text, read as it is downloaded: each chunk (export-batch.ts) names the versions its lines are, and
 * statements read those versions from the resource history as ndjson, so the file goes out in one pass over the data
 * with no copy of it kept. Versions are never changed, so every download of a file is the same bytes, and its size is
 * known before the first one is read. On PostgreSQL a statement is a binary COPY whose rows reach the response as the
 * bytes the database sent (db/copy-out-query.ts); on PGlite, which has no COPY to a client, one that joins them into
 * one text value.
 */
import { type Kysely, sql } from 'kysely';
import { copyOut } from '../../db/copy-out-query';
import type { Tables } from '../../db/tables';

const NEWLINE = Buffer.from('\n');

/** One chunk of a file: its number, and how many lines and bytes it holds. */
export interface ExportFileChunk {
  readonly chunkNo: number;
  readonly lines: number;
  readonly bytes: number;
}

/**
 * About how many bytes one statement of a download reads. A chunk's lines (up to 8 MB) are read in slices of this
 * size, a few statements ahead of what is being sent: the first bytes leave as soon as the first slice is read, and
 * the database reads the next slices while the server sends the last (on two connections, on another core).
 */
export const DOWNLOAD_SLICE_BYTES = 1024 * 1024;

/** Statements of one download in flight at once. */
export const DOWNLOAD_READ_AHEAD = 2;

/** The chunks of a file, in order, with their sizes (none: the file is empty or does not exist). */
export async function exportFileChunks(db: Kysely<Tables>, jobId: string, type: string): Promise<ExportFileChunk[]> {
  const { rows } = await sql<{ chunk_no: number; lines: number; bytes: string }>`
    select chunk_no, lines, bytes from export_chunk where job_id = ${jobId} and resource_type = ${type} and lines > 0
    order by chunk_no`.execute(db);
  return rows.map((row) => ({ chunkNo: row.chunk_no, lines: row.lines, bytes: Number(row.bytes) }));
}

/** One statement's share of a chunk: its lines from `from` to `to` (1-based, inclusive). */
interface Slice {
  readonly chunkNo: number;
  readonly from: number;
  readonly to: number;
}

/** How a download reads one slice's lines: as ndjson, each line followed by a newline, in one piece or several. */
type SliceReader = (db: Kysely<Tables>, jobId: string, type: string, slice: Slice) => Promise<string | Buffer[]>;

/** A chunk's lines cut into slices of about DOWNLOAD_SLICE_BYTES (its lines' sizes are known only in total). */
export function chunkSlices(chunk: ExportFileChunk, sliceBytes = DOWNLOAD_SLICE_BYTES): Slice[] {
  const perLine = Math.max(chunk.bytes / chunk.lines, 1);
  const lines = Math.max(1, Math.floor(sliceBytes / perLine));
  const slices: Slice[] = [];
  for (let from = 1; from <= chunk.lines; from += lines)
    slices.push({ chunkNo: chunk.chunkNo, from, to: Math.min(from + lines - 1, chunk.lines) });
  return slices;
}

/**
 * A file's text a slice at a time, in order, one statement each, DOWNLOAD_READ_AHEAD of them ahead of the one being
 * sent, so no statement holds much of a file and the database and the network do not take turns.
 */
export async function* exportFileText(
  db: Kysely<Tables>,
  kind: 'postgres' | 'pglite' | undefined,
  jobId: string,
  type: string,
  chunks: readonly ExportFileChunk[],
  sliceBytes = DOWNLOAD_SLICE_BYTES,
): AsyncGenerator<string | Buffer> {
  const read: SliceReader = kind === 'postgres' ? copySlice : joinSlice;
  const slices = chunks.flatMap((chunk) => chunkSlices(chunk, sliceBytes));
  const reading: Promise<string | Buffer[]>[] = [];
  let next = 0;
  const readAhead = () => {
    while (reading.length < DOWNLOAD_READ_AHEAD && next < slices.length) {
      const lines = read(db, jobId, type, slices[next++]);
      // A download given up mid-way leaves the slices read ahead unawaited: not an unhandled rejection.
      void lines.catch(() => undefined);
      reading.push(lines);
    }
  };
  readAhead();
  while (reading.length) {
    const lines = await (reading.shift() as Promise<string | Buffer[]>);
    readAhead();
    if (typeof lines === 'string') yield lines;
    else yield* lines;
  }
}

/**
 * A slice's lines by a binary COPY (PostgreSQL): its rows go out as the database reads them, and come back as the
 * stored bytes. A COPY takes no parameters, so its values are written into its text: the export's id is a UUID and
 * the type a resource type name (checked here again), the rest numbers.
 */
async function copySlice(db: Kysely<Tables>, jobId: string, type: string, slice: Slice): Promise<Buffer[]> {
  if (!/^[0-9a-f-]{36}$/.test(jobId) || !/^[A-Za-z]{1,64}$/.test(type)) throw new Error(`Export ${jobId}: not a file of an export`);
  const [chunkNo, from, to] = [slice.chunkNo, slice.from, slice.to].map((n) => {
    if (!Number.isSafeInteger(n)) throw new Error(`Export ${jobId}: a slice of ${type} is not numbered`);
    return n;
  });
  const { rows } = await copyOut(sql`
    select h.content
    from export_chunk c
    cross join lateral unnest(c.ids[${sql.lit(from)}:${sql.lit(to)}], c.versions[${sql.lit(from)}:${sql.lit(to)}])
      with ordinality as u(id, version, n)
    join resource_history h on h.resource_type = c.resource_type and h.id = u.id and h.version = u.version
    where c.job_id = ${sql.lit(jobId)} and c.resource_type = ${sql.lit(type)} and c.chunk_no = ${sql.lit(chunkNo)}
    order by u.n`).execute(db);
  if (rows.length !== to - from + 1) throw gone(jobId, type);
  // A text value's binary form is its bytes: each line goes out as stored, followed by a newline.
  return rows.flatMap((row) => [row.data ?? Buffer.alloc(0), NEWLINE]);
}

/** A slice's lines joined into one text value by the database (PGlite, which has no COPY to a client). */
async function joinSlice(db: Kysely<Tables>, jobId: string, type: string, slice: Slice): Promise<string> {
  const { rows } = await sql<{ found: number; content: string | null }>`
    select v.found, v.content
    from export_chunk c
    cross join lateral (
      select count(h.id)::int as found, string_agg(h.content, E'\\n' order by u.n) as content
      from unnest(c.ids[${slice.from}:${slice.to}], c.versions[${slice.from}:${slice.to}]) with ordinality as u(id, version, n)
      join resource_history h on h.resource_type = c.resource_type and h.id = u.id and h.version = u.version) v
    where c.job_id = ${jobId} and c.resource_type = ${type} and c.chunk_no = ${slice.chunkNo}`.execute(db);
  const row = rows[0];
  if (!row || row.found !== slice.to - slice.from + 1) throw gone(jobId, type);
  return `${row.content ?? ''}\n`;
}

/**
 * A version is never deleted, nor an export's chunk while it is kept; were either gone, the file would be short of its
 * Content-Length: the download stops rather than send less than was announced.
 */
function gone(jobId: string, type: string): Error {
  return new Error(`Export ${jobId}: a chunk of ${type} or its versions are gone`);
}
