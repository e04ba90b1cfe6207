import { type RawBuilder, sql } from 'kysely';
import type { Connection, Submittable } from 'pg';

/** The comment that marks a statement to run as a binary COPY out (see copyOut, database.ts and pglite-dialect.ts). */
export const COPY_OUT = '/*copy-out*/ ';

/** Where copyOut's statement sends its rows: the client (PGlite sends them to its /dev/blob instead). */
export const COPY_OUT_TARGET = 'to stdout (format binary)';

/** The rows of a binary COPY out: each row's one column as `data` (null for SQL null). */
export interface CopyOutResult {
  readonly command: string;
  readonly rowCount: number | null;
  readonly rows: { data: Buffer | null }[];
}

/**
 * `select` (one column) run as `COPY (select) TO STDOUT (FORMAT binary)` on PostgreSQL: its rows come back as
 * `{ data: Buffer }`, the bytes as stored. A select's result comes in text format (the only one pg's parser reads
 * unharmed), where a bytea is hex: twice the bytes, decoded to a string and then from hex. A COPY takes no parameters:
 * every value in `select` must be a literal (sql.lit), after the caller has checked it.
 */
export function copyOut(select: RawBuilder<unknown>): RawBuilder<{ data: Buffer | null }> {
  return sql<{ data: Buffer | null }>`${sql.raw(COPY_OUT)}copy (${select}) ${sql.raw(COPY_OUT_TARGET)}`;
}

/** What opens PostgreSQL's binary COPY format; an int32 of flags and one of the header extension's length follow. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const EMPTY = Buffer.alloc(0);

/**
 * Reads PostgreSQL's binary COPY format of one-column rows as it arrives, in chunks cut anywhere. `copyRows`: copy each
 * row's bytes out of the chunk (its buffer is reused by the caller), or keep views of it (a chunk that stays as it is).
 */
class BinaryCopyReader {
  private pending: Buffer = EMPTY;
  private headerRead = false;
  ended = false;
  readonly rows: { data: Buffer | null }[] = [];

  constructor(private readonly copyRows: boolean) {}

  /** Reads the rows whole in `chunk` (with what an earlier chunk left of one), and keeps the rest for the next. */
  take(chunk: Buffer): void {
    if (this.ended) return;
    const bytes = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    if (!this.headerRead) {
      if (bytes.length < SIGNATURE.length + 8) return void (this.pending = Buffer.from(bytes));
      if (!bytes.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('A binary COPY did not start with its signature');
      const extension = bytes.readUInt32BE(SIGNATURE.length + 4);
      if (bytes.length < SIGNATURE.length + 8 + extension) return void (this.pending = Buffer.from(bytes));
      at = SIGNATURE.length + 8 + extension;
      this.headerRead = true;
    }
    while (at + 2 <= bytes.length) {
      const columns = bytes.readInt16BE(at);
      if (columns === -1) {
        this.ended = true;
        at += 2;
        break;
      }
      if (columns !== 1) throw new Error(`A binary COPY row had ${columns} columns, not one`);
      if (at + 6 > bytes.length) break;
      const length = bytes.readInt32BE(at + 2);
      if (length === -1) {
        this.rows.push({ data: null });
        at += 6;
        continue;
      }
      if (at + 6 + length > bytes.length) break;
      const data = bytes.subarray(at + 6, at + 6 + length);
      this.rows.push({ data: this.copyRows ? Buffer.from(data) : data });
      at += 6 + length;
    }
    this.pending = at < bytes.length && !this.ended ? Buffer.from(bytes.subarray(at)) : EMPTY;
  }
}

/** The rows of a whole binary COPY held in `bytes` (PGlite's /dev/blob), as views of it: nothing is copied. */
export function binaryCopyRows(bytes: Buffer): { data: Buffer | null }[] {
  const reader = new BinaryCopyReader(false);
  reader.take(bytes);
  if (!reader.ended) throw new Error('A binary COPY ended before its trailer');
  return reader.rows;
}

/**
 * A binary COPY out, sent with the simple query protocol; the CopyData messages are read as they come. pg hands each
 * as a view of its read buffer, which it reuses for later reads: the bytes of a row are copied out before the handler
 * returns (one copy, where the text format made two and a hex decoding).
 */
export class CopyOutQuery implements Submittable {
  private readonly reader = new BinaryCopyReader(true);
  private rowCount: number | null = null;
  private failure: Error | undefined;

  /** @param callback called once, with the rows or the error (public and not readonly, as pg may wrap it). */
  constructor(
    private readonly text: string,
    public callback: (err: Error | null, result?: CopyOutResult) => void,
  ) {}

  submit(connection: Connection): void {
    connection.query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    if (this.failure) return;
    try {
      this.reader.take(message.chunk);
    } catch (err) {
      this.failure = err as Error;
    }
  }

  handleCommandComplete(message: { text: string }): void {
    // "COPY 3": how many rows went out.
    const count = Number(message.text.split(' ').at(-1));
    this.rowCount = Number.isInteger(count) ? count : null;
  }

  handleRowDescription(): void {}

  handleDataRow(): void {}

  handleEmptyQuery(): void {}

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: Connection & { sendCopyFail(message: string): void }): void {
    connection.sendCopyFail('A COPY out takes no data in');
  }

  /** The server refused the statement (or the connection failed): pg calls no other handler of this query after it. */
  handleError(err: Error): void {
    this.callback(err);
  }

  handleReadyForQuery(): void {
    if (!this.failure && !this.reader.ended) this.failure = new Error('A binary COPY ended before its trailer');
    if (this.failure) this.callback(this.failure);
    else this.callback(null, { command: 'COPY', rowCount: this.rowCount, rows: this.reader.rows });
  }
}
