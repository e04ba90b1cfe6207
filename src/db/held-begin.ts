/**
 * A transaction's BEGIN, held back until its first statement and written to the connection just before it, in the
 * same batch of extended-protocol messages under one Sync: PostgreSQL answers both in one round trip, where a BEGIN
 * on its own costs a round trip that carries nothing. Every write transaction on PostgreSQL starts this way (libpq's
 * pipeline mode does the same); database.ts holds the BEGIN back.
 */
import { type Connection, Query, type Submittable } from 'pg';

/** Whether a statement starts a transaction (what Kysely sends: `begin`, or `start transaction isolation level ...`). */
export function startsTransaction(text: string): boolean {
  return /^\s*(begin|start\s+transaction)\b/i.test(text);
}

/** Writes `begin` as Parse, Bind and Execute of the unnamed statement, without a Sync: the next statement's follows. */
export function writeBegin(connection: Connection, begin: string): void {
  connection.parse({ name: '', text: begin, types: [] }, true);
  connection.bind({ portal: '', statement: '', values: [] }, true);
  connection.execute({ portal: '' }, true);
}

/** What pg's client calls on the query it runs (pg's Query has them all). */
interface QueryHandlers extends Submittable {
  callback?: unknown;
  handleRowDescription(message: unknown): void;
  handleDataRow(message: unknown): void;
  handlePortalSuspended(connection: Connection): void;
  handleEmptyQuery(connection: Connection): void;
  handleCommandComplete(message: unknown, connection: Connection): void;
  handleError(err: Error, connection: Connection): void;
  handleReadyForQuery(connection: Connection): void;
  handleCopyInResponse(connection: Connection): void;
  handleCopyData(message: unknown, connection: Connection): void;
}

/**
 * A statement run as pg runs it (a Query in the extended protocol, unnamed: a statement prepared on the connection
 * would be described by the BEGIN's parse), with a held-back BEGIN written before it. The BEGIN's answer (its
 * CommandComplete) is read here; everything after it is the statement's. Should the BEGIN fail, the server skips the
 * statement and the error is the statement's.
 */
export class StatementAfterBegin implements Submittable {
  private begun = false;
  private readonly statement: QueryHandlers;

  constructor(
    private readonly begin: string,
    text: string,
    values: unknown[] | undefined,
    callback: (err: Error | null, result?: unknown) => void,
  ) {
    // queryMode 'extended': pg would send a statement without values as a simple Query, which has a Sync of its own.
    const config = { text, values: values ?? [], queryMode: 'extended' } as ConstructorParameters<typeof Query>[0];
    this.statement = new Query(config, undefined, callback as ConstructorParameters<typeof Query>[2]) as unknown as QueryHandlers;
  }

  get callback(): unknown {
    return this.statement.callback;
  }

  set callback(callback: unknown) {
    this.statement.callback = callback;
  }

  submit(connection: Connection): void {
    const stream = connection.stream as Connection['stream'] & { cork(): void; uncork(): void };
    stream.cork();
    try {
      writeBegin(connection, this.begin);
      this.statement.submit(connection);
    } finally {
      stream.uncork();
    }
  }

  handleCommandComplete(message: unknown, connection: Connection): void {
    if (!this.begun) {
      this.begun = true;
      return;
    }
    this.statement.handleCommandComplete(message, connection);
  }

  handleRowDescription(message: unknown): void {
    this.statement.handleRowDescription(message);
  }

  handleDataRow(message: unknown): void {
    this.statement.handleDataRow(message);
  }

  handlePortalSuspended(connection: Connection): void {
    this.statement.handlePortalSuspended(connection);
  }

  handleEmptyQuery(connection: Connection): void {
    this.statement.handleEmptyQuery(connection);
  }

  handleError(err: Error, connection: Connection): void {
    this.statement.handleError(err, connection);
  }

  handleReadyForQuery(connection: Connection): void {
    this.statement.handleReadyForQuery(connection);
  }

  handleCopyInResponse(connection: Connection): void {
    this.statement.handleCopyInResponse(connection);
  }

  handleCopyData(message: unknown, connection: Connection): void {
    this.statement.handleCopyData(message, connection);
  }
}
