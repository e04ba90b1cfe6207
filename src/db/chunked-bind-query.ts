import pg, { type Connection, type Submittable, types } from 'pg';
import { ByteChunks } from './byte-chunks';
import { writeBegin } from './held-begin';

/** A statement's answer, as pg's own query result has it (what Kysely's PostgreSQL driver reads). */
export interface ChunkedBindResult {
  readonly command: string;
  readonly rowCount: number | null;
  readonly rows: Record<string, unknown>[];
}

/** pg's own conversion of a parameter to its text (arrays to array literals, dates, booleans, JSON), untyped in @types/pg. */
const { prepareValue } = (pg as unknown as { utils: { prepareValue: (value: unknown) => string | Buffer | null } }).utils;

/** PostgreSQL's format codes for a Bind message's parameters and results. */
const TEXT = 0;
const BINARY = 1;

/**
 * One statement sent as pg sends a statement with parameters (Parse, Bind, Describe, Execute, Sync: the extended query
 * protocol), except that the Bind message is written to the connection's socket in pieces: a ByteChunks parameter's
 * chunks go out as they are, a bytea in binary format, where pg would copy the whole value into one message buffer
 * first. Its other parameters are sent as text, converted as pg converts them (an array to an array literal); rows come
 * back as pg parses them by default.
 */
export class ChunkedBindQuery implements Submittable {
  private readonly bind: Buffer[];
  private fields: { name: string; parse: (text: string) => unknown }[] = [];
  private readonly rows: Record<string, unknown>[] = [];
  private command = '';
  private rowCount: number | null = null;
  private failure: Error | undefined;

  /**
   * @param callback called once, with the result or the error; public and not readonly, as pg's client may wrap a
   *   submitted query's callback (its query_timeout does).
   * @param begin a held-back BEGIN to write before the statement (held-begin.ts)
   */
  constructor(
    private readonly text: string,
    values: readonly unknown[],
    public callback: (err: Error | null, result?: ChunkedBindResult) => void,
    private begin?: string,
  ) {
    this.bind = bindMessage(values);
  }

  /** Called by pg's client when the connection is free: writes the statement's messages in one go (corked). */
  submit(connection: Connection): void {
    const stream = connection.stream as Connection['stream'] & { cork(): void; uncork(): void };
    stream.cork();
    try {
      if (this.begin) writeBegin(connection, this.begin);
      connection.parse({ name: '', text: this.text, types: [] }, false);
      for (const piece of this.bind) stream.write(piece);
      connection.describe({ type: 'P', name: '' }, false);
      connection.execute({ portal: '' }, false);
      connection.sync();
    } finally {
      stream.uncork();
    }
  }

  handleRowDescription(message: { fields: { name: string; dataTypeID: number }[] }): void {
    this.fields = message.fields.map((field) => ({
      name: field.name,
      parse: types.getTypeParser(field.dataTypeID, 'text') as (text: string) => unknown,
    }));
  }

  handleDataRow(message: { fields: (string | null)[] }): void {
    if (this.failure) return;
    try {
      const row: Record<string, unknown> = {};
      this.fields.forEach((field, i) => {
        const text = message.fields[i];
        row[field.name] = text === null ? null : field.parse(text);
      });
      this.rows.push(row);
    } catch (err) {
      this.failure = err as Error;
    }
  }

  handleCommandComplete(message: { text: string }): void {
    // The held-back BEGIN's answer comes first.
    if (this.begin) return void (this.begin = undefined);
    // "INSERT 0 1", "UPDATE 3", "SELECT 2": the command, and how many rows it touched or returned.
    const [command, ...counts] = message.text.split(' ');
    this.command = command;
    const count = Number(counts.at(-1));
    this.rowCount = Number.isInteger(count) ? count : null;
  }

  handleEmptyQuery(): void {}

  /** Never sent: Execute asks for every row. */
  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: Connection & { sendCopyFail(message: string): void }): void {
    connection.sendCopyFail('A statement with chunked bytes cannot copy in');
  }

  handleCopyData(): void {}

  /** The server refused the statement (or the connection failed): pg calls no other handler of this query after it. */
  handleError(err: Error): void {
    this.callback(err);
  }

  handleReadyForQuery(): void {
    if (this.failure) this.callback(this.failure);
    else this.callback(null, { command: this.command, rowCount: this.rowCount, rows: this.rows });
  }
}

/**
 * The Bind message for `values`, as the pieces to write: the chunks of each ByteChunks value are among them unchanged.
 * Results are asked for as text.
 */
function bindMessage(values: readonly unknown[]): Buffer[] {
  const pieces: Buffer[] = [];
  let head: number[] = [];
  const endHead = (): void => {
    if (head.length) pieces.push(Buffer.from(head));
    head = [];
  };
  const int16 = (n: number): void => void head.push((n >>> 8) & 0xff, n & 0xff);
  const int32 = (n: number): void => void head.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  // The unnamed portal and statement (two empty strings), then the format of each parameter.
  head.push(0, 0);
  int16(values.length);
  for (const value of values) int16(value instanceof ByteChunks ? BINARY : TEXT);
  int16(values.length);
  for (const value of values) {
    if (value === null || value === undefined) {
      int32(-1);
    } else if (value instanceof ByteChunks) {
      int32(value.length);
      endHead();
      for (const chunk of value.chunks) if (chunk.length) pieces.push(chunk);
    } else {
      const converted = typeof value === 'string' ? value : prepareValue(value);
      if (converted === null) {
        int32(-1);
        continue;
      }
      if (Buffer.isBuffer(converted)) throw new TypeError('A statement with chunked bytes takes its bytes as ByteChunks');
      const text = Buffer.from(converted, 'utf8');
      int32(text.length);
      endHead();
      pieces.push(text);
    }
  }
  int16(1);
  int16(TEXT);
  endHead();
  const header = Buffer.alloc(5);
  header[0] = 0x42; // 'B'
  header.writeInt32BE(
    pieces.reduce((total, piece) => total + piece.length, 4),
    1,
  );
  return [header, ...pieces];
}
