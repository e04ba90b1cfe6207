import type { Connection, Submittable } from 'pg';
import type { ChunkedBindResult } from './chunked-bind-query';

/** The signature that opens PostgreSQL's binary COPY format: "PGCOPY\n\377\r\n\0". */
const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);

/** Bytes of output gathered per block before the next is started. */
const BLOCK_BYTES = 256 * 1024;

/**
 * Reads PostgreSQL's binary COPY format of a one-column query, in whatever pieces it arrives, into the values' bytes
 * each followed by a newline. Binary, because the text format writes every backslash twice (and JSON has many), which
 * would have to be undone byte by byte; here a value is its stored bytes, copied once.
 */
export class BinaryCopyLines {
  /** The pieces of an incomplete header or value, kept until `needed` bytes are there (joined once, not per piece). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private needed = 0;
  private headerRead = false;
  private ended = false;
  private readonly blocks: Buffer[] = [];
  private block = Buffer.allocUnsafe(BLOCK_BYTES);
  private used = 0;
  private total = 0;
  /** Values read so far. */
  count = 0;

  /** Takes the next piece of the stream (its bytes are copied: the driver may reuse the buffer). */
  push(piece: Buffer): void {
    let data = piece;
    if (this.pendingBytes) {
      // A copy: `piece` may be the driver's buffer, which it reuses once this call returns.
      this.pending.push(Buffer.from(piece));
      this.pendingBytes += piece.length;
      if (this.pendingBytes < this.needed) return;
      data = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let at = 0;
    if (!this.headerRead) {
      // Signature, flags (int32), then the header extension's length (int32) and the extension itself.
      if (data.length < SIGNATURE.length + 8) return this.keep(data, at, SIGNATURE.length + 8);
      if (!data.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('COPY did not answer in the binary format');
      const extension = data.readInt32BE(SIGNATURE.length + 4);
      if (data.length < SIGNATURE.length + 8 + extension) return this.keep(data, at, SIGNATURE.length + 8 + extension);
      at = SIGNATURE.length + 8 + extension;
      this.headerRead = true;
    }
    while (at < data.length) {
      if (this.ended) throw new Error('COPY sent data after its trailer');
      if (data.length - at < 2) return this.keep(data, at, 2);
      const fields = data.readInt16BE(at);
      if (fields === -1) {
        this.ended = true;
        at += 2;
        continue;
      }
      if (fields !== 1) throw new Error(`COPY of lines takes one column, got ${fields}`);
      if (data.length - at < 6) return this.keep(data, at, 6);
      const length = data.readInt32BE(at + 2);
      if (length < 0) throw new Error('COPY of lines got a null value');
      if (data.length - at < 6 + length) return this.keep(data, at, 6 + length);
      this.line(data, at + 6, at + 6 + length);
      at += 6 + length;
    }
  }

  /**
   * The values, each followed by a newline, in blocks of about BLOCK_BYTES (a value is never split), for the caller to
   * write one after the other rather than join into one more copy; throws when the stream ended early.
   */
  finish(): Buffer[] {
    if (this.pendingBytes || (this.headerRead && !this.ended)) throw new Error('COPY ended in the middle of a value');
    if (this.used) this.blocks.push(this.block.subarray(0, this.used));
    this.used = 0;
    return this.blocks;
  }

  /** The bytes of the values read so far, newlines included. */
  get bytes(): number {
    return this.total;
  }

  /** Keeps the bytes from `from` on until `needed` bytes from there have arrived. */
  private keep(data: Buffer, from: number, needed: number): void {
    // A copy: `data` may be the driver's buffer, which it reuses once this call returns.
    this.pending = [Buffer.from(data.subarray(from))];
    this.pendingBytes = data.length - from;
    this.needed = needed;
  }

  private line(data: Buffer, start: number, end: number): void {
    const length = end - start + 1;
    if (this.block.length - this.used < length) {
      if (this.used) this.blocks.push(this.block.subarray(0, this.used));
      this.block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, length));
      this.used = 0;
    }
    data.copy(this.block, this.used, start, end);
    this.block[this.used + length - 1] = 0x0a;
    this.used += length;
    this.total += length;
    this.count += 1;
  }
}

/** Whether a statement is a binary COPY out (`copy (...) to stdout (format binary)`), which CopyOutLines runs. */
export function isCopyOutLines(text: string): boolean {
  return /^copy\s*\([\s\S]*\)\s*to\s+stdout\s*\(\s*format\s+binary\s*\)\s*$/i.test(text);
}

/**
 * A binary COPY of a one-column query, run as pg runs a statement but answering one row: `lines`, the values' bytes
 * each followed by a newline (Buffers, to be sent one after the other), and `count`, how many. pg has no COPY of its own (pg-copy-streams adds one);
 * this is the small part of it an export's download needs: the stored JSON goes from the server's socket to the
 * response as bytes, never decoded into a JavaScript string and encoded again, and the database sends rows as it
 * reads them instead of joining them into one value first. A COPY takes no parameters: its text holds its values.
 */
export class CopyOutLines implements Submittable {
  private readonly lines = new BinaryCopyLines();
  private failure: Error | undefined;

  /** @param callback called once, with the result or the error (public and not readonly, as pg may wrap it). */
  constructor(
    private readonly text: string,
    public callback: (err: Error | null, result?: ChunkedBindResult) => void,
  ) {}

  /** Called by pg's client when the connection is free: the simple query protocol (COPY takes no parameters). */
  submit(connection: Connection): void {
    (connection as Connection & { query(text: string): void }).query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    if (this.failure) return;
    try {
      this.lines.push(message.chunk);
    } catch (err) {
      this.failure = err as Error;
    }
  }

  handleRowDescription(): void {}

  handleDataRow(): void {}

  handleCommandComplete(): void {}

  handleEmptyQuery(): void {}

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: Connection & { sendCopyFail(message: string): void }): void {
    connection.sendCopyFail('A COPY out statement cannot copy in');
  }

  /** The server refused the statement (or the connection failed): pg calls no other handler of this query after it. */
  handleError(err: Error): void {
    this.callback(err);
  }

  handleReadyForQuery(): void {
    if (this.failure) return this.callback(this.failure);
    try {
      const lines = this.lines.finish();
      this.callback(null, { command: 'COPY', rowCount: this.lines.count, rows: [{ lines, count: this.lines.count }] });
    } catch (err) {
      this.callback(err as Error);
    }
  }
}
