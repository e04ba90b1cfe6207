import type { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import { ByteChunks } from './byte-chunks';
import { binaryCopyRows, COPY_OUT, COPY_OUT_TARGET } from './copy-out-query';
import { currentStatementScope, endsTransaction, StatementCancelledError } from './statement-scope';

/**
 * A Kysely dialect for PGlite. PGlite is one connection to one in-process PostgreSQL, so the
 * driver hands that connection to one user at a time: a transaction must not interleave with
 * another request's statements.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite) {}

  createAdapter(): PostgresAdapter {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pglite);
  }
  createIntrospector(db: Kysely<unknown>): PostgresIntrospector {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler(): PostgresQueryCompiler {
    return new PostgresQueryCompiler();
  }
}

/** PostgreSQL's type oid of bytea. */
const BYTEA_OID = 17;

/**
 * A bytea parameter goes to PGlite as its bytes, which its protocol writer sends in binary format (as it does any
 * Uint8Array): PGlite's own serializer for bytea spells each byte out as hex text in JavaScript, about a second per
 * MB. A string given for a bytea (hex or escape text) goes as text, as before.
 */
const BYTEA_AS_IS = { serializers: { [BYTEA_OID]: (value: unknown) => value as string } };

class PGliteConnection implements DatabaseConnection {
  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    // PGlite runs a statement to its end on this thread (it has no statement_timeout, and no cancel: the event loop
    // is busy meanwhile); what it can do for a request whose client left is not to start its next statements.
    if (currentStatementScope()?.aborted && !endsTransaction(compiled.sql)) throw new StatementCancelledError();
    if (compiled.sql.startsWith(COPY_OUT)) return this.copyOut(compiled);
    // Bytes in pieces are one bytea parameter here too (PostgreSQL's driver sends the pieces as they are), in binary.
    const parameters = compiled.parameters.map((value) => (value instanceof ByteChunks ? value.joined() : value));
    const result = await this.pglite.query<R>(compiled.sql, parameters, BYTEA_AS_IS);
    const affected = result.affectedRows;
    return {
      rows: result.rows,
      numAffectedRows: affected !== undefined ? BigInt(affected) : undefined,
    };
  }

  /**
   * A binary COPY out (copy-out-query.ts) goes to PGlite's /dev/blob, whose bytes come back whole: each row as stored,
   * where a select's bytea would come back as hex text (twice the bytes), to be decoded again.
   */
  private async copyOut<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    if (!compiled.sql.endsWith(COPY_OUT_TARGET)) throw new Error('A COPY out sends its rows to stdout in the binary format');
    if (compiled.parameters.length) throw new Error('A COPY takes no parameters: its values must be literals');
    const text = `${compiled.sql.slice(0, -COPY_OUT_TARGET.length)}to '/dev/blob' (format binary)`;
    const { blob } = await this.pglite.query(text);
    const rows = blob ? binaryCopyRows(Buffer.from(await blob.arrayBuffer())) : [];
    return { rows: rows as R[] };
  }

  // Kysely's Driver wants an async iterator here; this one fails on its first read, so it neither yields nor awaits.
  // eslint-disable-next-line require-yield, @typescript-eslint/require-await
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite does not support streaming queries');
  }
}

class PGliteDriver implements Driver {
  private readonly connection: PGliteConnection;
  private queue: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;

  constructor(private readonly pglite: PGlite) {
    this.connection = new PGliteConnection(pglite);
  }

  async init(): Promise<void> {
    await this.pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.release = release;
    return this.connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const level = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await connection.executeQuery(CompiledQuery.raw(`begin${level}`));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  releaseConnection(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    release?.();
    return Promise.resolve();
  }

  async destroy(): Promise<void> {
    await this.queue;
    await this.pglite.close();
  }
}
