/**
 * Where a Binary's bytes live, apart from its JSON. The resource keeps what describes them (contentType,
 * securityContext, and the content extension: size and SHA-256, see binary-content.ts); a BinaryStore keeps the
 * bytes, by their SHA-256. The database store writes them in the caller's transaction, with the resource; another
 * store (an S3-compatible object store) can stand behind the same interface without its callers changing: content is
 * addressed by its hash, so bytes written before a transaction that rolls back are harmless.
 */
import type { Kysely, RawBuilder } from 'kysely';
import type { Tables } from '../../db/tables';

/** What names stored content: the SHA-256 (hex) of its bytes, and how many there are. */
export interface ContentDescriptor {
  readonly sha256: string;
  readonly size: number;
}

/** Content received (a request body, decoded base64), hashed on the way in and held once until it is stored. */
export interface ReceivedContent extends ContentDescriptor {
  /** SHA-1 of the bytes, base64, as R4's Attachment.hash wants it (computed for content an attachment names). */
  readonly sha1?: string;
  /** The bytes, in the chunks they arrived in (never joined into one copy). */
  readonly chunks: readonly Buffer[];
  /** The first bytes (up to 16), to tell a file's type by its content. */
  readonly head: Buffer;
}

/** Bytes `start` to `end` of some content, both included (as an HTTP Range says it). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** Keeps and serves Binary content; `db` is the transaction (or database) the caller works in. */
export interface BinaryStore {
  /** Stores the content unless the same bytes are stored already; `contentType` is noted with it. */
  save(db: Kysely<Tables>, content: ReceivedContent, contentType: string): Promise<void>;
  /**
   * The content's write as common table expressions (the first named `name`), for the statement that writes the
   * Binary itself, so that the bytes and the resource go to the database in one round trip; undefined when this store
   * cannot (an object store, or content too large for one statement), and save() is used instead. Optional.
   */
  writeWith?(content: ReceivedContent, contentType: string, name: string): RawBuilder<unknown> | undefined;
  /** Whether content with this SHA-256 is stored. */
  has(db: Kysely<Tables>, sha256: string): Promise<boolean>;
  /** The bytes of stored content (or of a range of it), a part at a time. */
  read(db: Kysely<Tables>, content: ContentDescriptor, range?: ByteRange): AsyncIterable<Buffer>;
}
