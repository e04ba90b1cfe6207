import { type Kysely, sql } from 'kysely';
import type { Tables } from '../../db/tables';
import type { BinaryStore, ByteRange, ContentDescriptor, ReceivedContent } from './binary-store';

/** Bytes per stored part (the migration 0011-binary-content splits existing content the same way). */
export const CONTENT_PART_BYTES = 1024 * 1024;

/**
 * Binary content in the database itself (`binary_content`, `binary_content_part`), written in the caller's
 * transaction: the bytes commit with the Binary that describes them, or not at all. Each part travels as hex text,
 * which both drivers move quickly: PGlite serialises a bytea parameter or result byte by byte in JavaScript (about
 * a second per MB, against some 60 ms as hex text), and node-postgres reads bytea as hex text anyway.
 */
export const databaseBinaryStore: BinaryStore = {
  async save(db, content, contentType) {
    const { rows } = await sql<{ sha256: string }>`insert into binary_content (sha256, size, content_type)
      values (${content.sha256}, ${content.size}, ${contentType}) on conflict do nothing returning sha256`.execute(db);
    // Stored already (the same bytes under another Binary, or this one restated): nothing more to write.
    if (!rows.length) return;
    let part = 0;
    for (const bytes of partsOf(content.chunks, CONTENT_PART_BYTES)) {
      await sql`insert into binary_content_part (sha256, part, data)
        values (${content.sha256}, ${part++}, decode(${bytes.toString('hex')}, 'hex'))`.execute(db);
    }
  },

  async has(db, sha256) {
    const { rows } = await sql`select 1 from binary_content where sha256 = ${sha256}`.execute(db);
    return rows.length > 0;
  },

  read(db, content, range) {
    return readParts(db, content, range);
  },
};

async function* readParts(db: Kysely<Tables>, content: ContentDescriptor, range?: ByteRange): AsyncIterable<Buffer> {
  const start = range?.start ?? 0;
  const end = range?.end ?? content.size - 1;
  if (end < start) return;
  const first = Math.floor(start / CONTENT_PART_BYTES);
  const last = Math.floor(end / CONTENT_PART_BYTES);
  for (let part = first; part <= last; part++) {
    const from = part === first ? start - part * CONTENT_PART_BYTES : 0;
    const to = part === last ? end - part * CONTENT_PART_BYTES : CONTENT_PART_BYTES - 1;
    // bytea's text form is \x followed by hex (bytea_output's default on both databases).
    const { rows } = await sql<{ data: string }>`select substring(data from ${from + 1} for ${to - from + 1})::text as data
      from binary_content_part where sha256 = ${content.sha256} and part = ${part}`.execute(db);
    const text = rows[0]?.data;
    if (text === undefined || !text.startsWith('\\x')) throw new Error(`Binary content ${content.sha256} has no part ${part}`);
    yield Buffer.from(text.slice(2), 'hex');
  }
}

/** The bytes of `chunks` cut into parts of `size` (the last one shorter); a part within one chunk is not copied. */
export function* partsOf(chunks: readonly Buffer[], size: number): Generator<Buffer> {
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
        yield pending.length === 1 ? pending[0] : Buffer.concat(pending, size);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes) yield pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
}
