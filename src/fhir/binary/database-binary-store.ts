import { type Kysely, type RawBuilder, sql } from 'kysely';
import { ByteChunks } from '../../db/byte-chunks';
import type { Tables } from '../../db/tables';
import type { BinaryStore, ByteRange, ContentDescriptor } from './binary-store';

/** Bytes per stored part (the migration 0011-binary-content splits existing content the same way). */
export const CONTENT_PART_BYTES = 1024 * 1024;

/** How a part's bytes travel between Node and the database. */
interface PartCodec {
  /** The SQL value of a part's bytes. */
  encode(bytes: ByteChunks): RawBuilder<unknown>;
  /** A selected bytea expression as the codec reads it back. */
  select(expression: RawBuilder<unknown>): RawBuilder<unknown>;
  decode(value: unknown): Buffer;
}

/**
 * As hex text, which both drivers move quickly: PGlite serialises a bytea parameter or result byte by byte in
 * JavaScript (about a second per MB, against some 60-100 ms as hex text).
 */
const HEX: PartCodec = {
  encode: (bytes) => sql`decode(${bytes.joined().toString('hex')}, 'hex')`,
  // bytea's text form is \x followed by hex (bytea_output's default on both databases).
  select: (expression) => sql`${expression}::text`,
  decode: (value) => {
    if (typeof value !== 'string' || !value.startsWith('\\x')) throw new Error('A bytea part did not read back as hex text');
    return Buffer.from(value.slice(2), 'hex');
  },
};

/**
 * As bytea, in binary format (half the bytes of hex, nothing to decode): the part's pieces go to the server as they
 * arrived (ByteChunks), not joined and copied into the driver's message.
 */
const BYTEA: PartCodec = {
  encode: (bytes) => sql`${bytes}`,
  select: (expression) => expression,
  decode: (value) => value as Buffer,
};

/**
 * Binary content in the database itself (`binary_content`, `binary_content_part`), written in the caller's
 * transaction: the bytes commit with the Binary that describes them, or not at all.
 */
function databaseStore(codec: PartCodec): BinaryStore {
  return {
    async save(db, content, contentType) {
      const { rows } = await sql<{ sha256: string }>`insert into binary_content (sha256, size, content_type)
        values (${content.sha256}, ${content.size}, ${contentType}) on conflict do nothing returning sha256`.execute(db);
      // Stored already (the same bytes under another Binary, or this one restated): nothing more to write.
      if (!rows.length) return;
      let part = 0;
      for (const pieces of partsOf(content.chunks, CONTENT_PART_BYTES)) {
        await sql`insert into binary_content_part (sha256, part, data) values (${content.sha256}, ${part++}, ${codec.encode(new ByteChunks(pieces))})`.execute(
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

/** The store for either database, moving bytes as hex text (what PGlite needs; correct on PostgreSQL too). */
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
    const { rows } = await sql<{ data: unknown }>`select ${codec.select(sql`substring(data from ${from + 1} for ${to - from + 1})`)} as data
      from binary_content_part where sha256 = ${content.sha256} and part = ${part}`.execute(db);
    if (!rows.length) throw new Error(`Binary content ${content.sha256} has no part ${part}`);
    yield codec.decode(rows[0].data);
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
