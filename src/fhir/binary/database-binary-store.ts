import { type Kysely, type RawBuilder, sql } from 'kysely';
import { ByteChunks } from '../../db/byte-chunks';
import { copyOut } from '../../db/copy-out-query';
import type { Tables } from '../../db/tables';
import type { BinaryStore, ByteRange, ContentDescriptor, ReceivedContent } from './binary-store';

/** Bytes per stored part (the migration 0011-binary-content splits existing content the same way). */
export const CONTENT_PART_BYTES = 1024 * 1024;

/**
 * A part's bytes go to the database as a bytea parameter in binary format, on PostgreSQL and PGlite alike: half the
 * bytes of hex text and nothing to decode. On PostgreSQL a part's pieces go to the server as they arrived
 * (ByteChunks), not joined and copied into the driver's message (chunked-bind-query.ts); PGlite's driver is told to
 * send the bytes as they are (pglite-dialect.ts), where by default it would spell them out as hex, byte by byte in
 * JavaScript (about a second per MB). A statement carries one part: 8 parts to a statement made a 10 MB upload 4
 * round trips instead of 12, but under heavy load (load average 23 on 2 CPUs) 6 of 16 such uploads failed in one
 * round of bench:binary, and a statement of 8 MB is that much nearer the statement timeout. Parts come back by a
 * binary COPY (copy-out-query.ts), as stored.
 */
const partBytes = (bytes: ByteChunks): RawBuilder<unknown> => sql`${bytes}::bytea`;

/** `length` bytes of a stored part from byte `from`, by a binary COPY (copy-out-query.ts): the bytes as stored. */
async function readPart(db: Kysely<Tables>, sha256: string, part: number, from: number, length: number): Promise<Buffer | undefined> {
  // A COPY takes no parameters: its values are literals, of a form checked here.
  if (!SHA256_HEX.test(sha256)) throw new Error(`"${sha256.slice(0, 80)}" is not the SHA-256 of stored content`);
  const { rows } = await copyOut(sql`select substring(data from ${sql.lit(from + 1)} for ${sql.lit(length)})
    from binary_content_part where sha256 = ${sql.lit(sha256)} and part = ${sql.lit(part)}`).execute(db);
  if (!rows.length) return undefined;
  return rows[0].data ?? Buffer.alloc(0);
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Binary content in the database itself (`binary_content`, `binary_content_part`), written in the caller's
 * transaction: the bytes commit with the Binary that describes them, or not at all.
 */
export const databaseBinaryStore: BinaryStore = {
  async save(db, content, contentType) {
    const parts = [...partsOf(content.chunks, CONTENT_PART_BYTES)];
    // The content's row and its first part in one statement; the part goes in only when the row is new.
    const { rows } = await sql<{ stored: number }>`with ${contentWrites(content, contentType, parts.slice(0, 1), 'c')}
      select count(*)::int as stored from c`.execute(db);
    // Stored already (the same bytes under another Binary, or this one restated): nothing more to write.
    if (!rows[0]?.stored) return;
    for (let part = 1; part < parts.length; part++) {
      await sql`insert into binary_content_part (sha256, part, data)
        values (${content.sha256}, ${part}::int, ${partBytes(new ByteChunks(parts[part]))})`.execute(db);
    }
  },

  writeWith(content, contentType, name) {
    // Content of more than one part keeps its statements (save): each carries one part.
    if (content.size > CONTENT_PART_BYTES) return undefined;
    return contentWrites(content, contentType, [...partsOf(content.chunks, CONTENT_PART_BYTES)], name);
  },

  async has(db, sha256) {
    const { rows } = await sql`select 1 from binary_content where sha256 = ${sha256}`.execute(db);
    return rows.length > 0;
  },

  read(db, content, range) {
    return readParts(db, content, range);
  },
};

/**
 * Common table expressions (`name`, and `name_part` when there are parts) that insert the content's row, unless the
 * same bytes are stored already, and, only when the row is new, `parts` as its first parts. `name` returns the row
 * when it was inserted.
 */
function contentWrites(content: ReceivedContent, contentType: string, parts: readonly Buffer[][], name: string): RawBuilder<unknown> {
  const row = sql`${sql.id(name)} as (insert into binary_content (sha256, size, content_type)
    values (${content.sha256}, ${content.size}, ${contentType}) on conflict do nothing returning sha256)`;
  if (!parts.length) return row;
  const values = sql.join(parts.map((pieces, i) => sql`(${i}::int, ${partBytes(new ByteChunks(pieces))})`));
  return sql`${row}, ${sql.id(`${name}_part`)} as (insert into binary_content_part (sha256, part, data)
    select c.sha256, v.part, v.data from ${sql.id(name)} c cross join (values ${values}) as v(part, data))`;
}

/** The store for a database of either kind (both take bytes as binary parameters). */
export function databaseBinaryStoreFor(_kind: 'postgres' | 'pglite'): BinaryStore {
  return databaseBinaryStore;
}

async function* readParts(db: Kysely<Tables>, content: ContentDescriptor, range?: ByteRange): AsyncIterable<Buffer> {
  const start = range?.start ?? 0;
  const end = range?.end ?? content.size - 1;
  if (end < start) return;
  const first = Math.floor(start / CONTENT_PART_BYTES);
  const last = Math.floor(end / CONTENT_PART_BYTES);
  for (let part = first; part <= last; part++) {
    const from = part === first ? start - part * CONTENT_PART_BYTES : 0;
    const to = part === last ? end - part * CONTENT_PART_BYTES : CONTENT_PART_BYTES - 1;
    const bytes = await readPart(db, content.sha256, part, from, to - from + 1);
    if (!bytes) throw new Error(`Binary content ${content.sha256} has no part ${part}`);
    yield bytes;
  }
}

/** The bytes of `chunks` cut into parts of `size` (the last one shorter), each as its pieces: nothing is copied. */
export function* partsOf(chunks: readonly Buffer[], size: number): Generator<Buffer[]> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for (const chunk of chunks) {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(size - pendingBytes, chunk.length - offset);
      pending.push(chunk.subarray(offset, offset + take));
      pendingBytes += take;
      offset += take;
      if (pendingBytes === size) {
        yield pending;
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes) yield pending;
}
