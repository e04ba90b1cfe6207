import { type Kysely, type RawBuilder, sql } from 'kysely';
import { ByteChunks } from '../../db/byte-chunks';
import { copyOut } from '../../db/copy-out-query';
import type { Tables } from '../../db/tables';
import type { BinaryStore, ByteRange, ContentDescriptor } from './binary-store';

/** Bytes per stored part (the migration 0011-binary-content splits existing content the same way). */
export const CONTENT_PART_BYTES = 1024 * 1024;

/** How a part's bytes travel between Node and the database. */
interface PartCodec {
  /** The SQL value (a bytea) of a part's bytes. */
  encode(bytes: ByteChunks): RawBuilder<unknown>;
  /** How many parts one statement writes (a file's first ones go with its binary_content row). */
  readonly partsPerStatement: number;
  /** `length` bytes of one stored part from byte `from` (0-based); undefined when the part is not stored. */
  readPart(db: Kysely<Tables>, sha256: string, part: number, from: number, length: number): Promise<Buffer | undefined>;
}

/**
 * On PGlite, bytes go in as hex text, which it moves quickly: it serialises a bytea parameter byte by byte in
 * JavaScript (about a second per MB, against some 60-100 ms as hex text). A statement carries one part: in process, a
 * statement costs no round trip, and its hex text is twice the part. They come back by a binary COPY (to PGlite's
 * /dev/blob), as stored, as on PostgreSQL.
 */
const HEX: PartCodec = {
  encode: (bytes) => sql`decode(${bytes.joined().toString('hex')}, 'hex')`,
  partsPerStatement: 1,
  readPart: readPartByCopy,
};

/**
 * On PostgreSQL, bytes travel as bytea in binary format, half the bytes of hex and nothing to decode: a part's pieces
 * go to the server as they arrived (ByteChunks), not joined and copied into the driver's message, and come back by a
 * binary COPY (copy-out-query.ts). A statement carries one part, as before: 8 parts to a statement made a 10 MB
 * upload 4 round trips instead of 12, but under heavy load (load average 23 on 2 CPUs) 6 of 16 such uploads failed in
 * one round of bench:binary, and a statement of 8 MB is that much nearer the statement timeout.
 */
const BYTEA: PartCodec = {
  encode: (bytes) => sql`${bytes}::bytea`,
  partsPerStatement: 1,
  readPart: readPartByCopy,
};

/** `length` bytes of a stored part from byte `from`, by a binary COPY (copy-out-query.ts): the bytes as stored. */
async function readPartByCopy(db: Kysely<Tables>, sha256: string, part: number, from: number, length: number): Promise<Buffer | undefined> {
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
function databaseStore(codec: PartCodec): BinaryStore {
  return {
    async save(db, content, contentType) {
      const parts = [...partsOf(content.chunks, CONTENT_PART_BYTES)];
      const first = parts.slice(0, codec.partsPerStatement);
      // The content's row and its first parts in one statement; the parts go in only when the row is new.
      const { rows } = await sql<{ stored: number }>`with c as (insert into binary_content (sha256, size, content_type)
        values (${content.sha256}, ${content.size}, ${contentType}) on conflict do nothing returning sha256)${
          first.length
            ? sql`, p as (insert into binary_content_part (sha256, part, data)
              select c.sha256, v.part, v.data from c cross join (values ${partValues(codec, first, 0)}) as v(part, data))`
            : sql``
        }
        select count(*)::int as stored from c`.execute(db);
      // Stored already (the same bytes under another Binary, or this one restated): nothing more to write.
      if (!rows[0]?.stored) return;
      for (let at = first.length; at < parts.length; at += codec.partsPerStatement) {
        await sql`insert into binary_content_part (sha256, part, data)
          select ${content.sha256}::text, v.part, v.data from (values ${partValues(codec, parts.slice(at, at + codec.partsPerStatement), at)}) as v(part, data)`.execute(
          db,
        );
      }
    },

    async has(db, sha256) {
      const { rows } = await sql`select 1 from binary_content where sha256 = ${sha256}`.execute(db);
      return rows.length > 0;
    },

    read(db, content, range) {
      return readParts(db, codec, content, range);
    },
  };
}

/** `(part number, bytes)` rows of a VALUES list, the first part being number `first`. */
function partValues(codec: PartCodec, parts: readonly Buffer[][], first: number): RawBuilder<unknown> {
  return sql.join(parts.map((pieces, i) => sql`(${first + i}::int, ${codec.encode(new ByteChunks(pieces))})`));
}

/** The store for either database, writing bytes as hex text (what PGlite needs; correct on PostgreSQL too). */
export const databaseBinaryStore: BinaryStore = databaseStore(HEX);

/** The store for a database of this kind: on PostgreSQL, bytes travel as bytea. */
export function databaseBinaryStoreFor(kind: 'postgres' | 'pglite'): BinaryStore {
  return kind === 'postgres' ? postgresStore : databaseBinaryStore;
}

const postgresStore = databaseStore(BYTEA);

async function* readParts(db: Kysely<Tables>, codec: PartCodec, content: ContentDescriptor, range?: ByteRange): AsyncIterable<Buffer> {
  const start = range?.start ?? 0;
  const end = range?.end ?? content.size - 1;
  if (end < start) return;
  const first = Math.floor(start / CONTENT_PART_BYTES);
  const last = Math.floor(end / CONTENT_PART_BYTES);
  for (let part = first; part <= last; part++) {
    const from = part === first ? start - part * CONTENT_PART_BYTES : 0;
    const to = part === last ? end - part * CONTENT_PART_BYTES : CONTENT_PART_BYTES - 1;
    const bytes = await codec.readPart(db, content.sha256, part, from, to - from + 1);
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
