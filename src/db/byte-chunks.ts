/**
 * Bytes held as the pieces they arrived in (a request body's chunks), given as one bytea parameter. On PostgreSQL the
 * pieces go to the server's socket as they are (chunked-bind-query.ts), instead of being joined into one Buffer and
 * copied once more into the driver's message: two fewer copies of every byte of a file, and two fewer buffers of its
 * size for the garbage collector to account for.
 */
export class ByteChunks {
  /** How many bytes the pieces hold together. */
  readonly length: number;

  constructor(readonly chunks: readonly Buffer[]) {
    this.length = chunks.reduce((total, chunk) => total + chunk.length, 0);
  }

  /** The bytes as one Buffer (a copy unless there is only one piece), for a driver that wants one. */
  joined(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
  }
}
