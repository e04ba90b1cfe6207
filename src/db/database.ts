import fs from 'node:fs';
import type { EventEmitter } from 'node:events';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { Client, Pool, type PoolClient } from 'pg';
import { ByteChunks } from './byte-chunks';
import { ChunkedBindQuery, type ChunkedBindResult } from './chunked-bind-query';
import { COPY_OUT, CopyOutQuery, type CopyOutResult } from './copy-out-query';
import { StatementAfterBegin, startsTransaction } from './held-begin';
import { preparedName } from './prepared-statement';
import type { Config } from '../config';
import { lockDataDir } from './data-dir-lock';
import { PGliteDialect } from './pglite-dialect';
import { currentStatementScope, endsTransaction, StatementCancelledError } from './statement-scope';
import type { Tables } from './tables';

/** An open database: the Kysely handle plus what kind it is and how to close it. */
export interface Database {
  readonly db: Kysely<Tables>;
  readonly kind: 'postgres' | 'pglite';
  /** True while the database answers a trivial query. */
  ping(): Promise<boolean>;
  /** The PostgreSQL pool's connections (total, idle) and callers waiting for one; absent on PGlite (one connection). */
  poolStats?(): { total: number; idle: number; waiting: number };
  /** The embedded database's data directory as a tar image (PGlite only), which openDatabase can start from. */
  dumpDataDir?(): Promise<Blob>;
  close(): Promise<void>;
}

/**
 * Opens PostgreSQL through pg when databaseUrl is set, else the embedded PGlite in dataDir, which this process
 * then holds locked until close() (DataDirInUseError when another process has it open).
 */
export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir'> & { readonly statementTimeoutMs?: number },
  options: { inMemory?: boolean; inMemoryFrom?: Blob } = {},
): Promise<Database> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl, config.statementTimeoutMs ?? 0);
  if (options.inMemory) return openPGlite(undefined, options.inMemoryFrom);
  const lock = lockDataDir(config.dataDir);
  try {
    const database = await openPGlite(path.join(config.dataDir, 'pglite'));
    return { ...database, close: () => database.close().finally(() => lock.release()) };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * Settings of every connection to PostgreSQL. jit = off: PostgreSQL compiles a statement to machine code when its
 * estimated cost passes jit_above_cost (100,000 by default), which pays off for long analytical queries and never for
 * this service's short ones. A portal caller's reads carry the visibility condition (src/access/visibility.ts), an OR
 * of some thirty EXISTS alternatives that the planner charges in full for every row, so once ANALYZE has seen a
 * record of a few hundred resources its estimate passes the threshold: Ada's $ccda then spent 0.6 to 2.3 s compiling
 * 895 functions for a statement that ran in 10 ms (Emission in EXPLAIN ANALYZE's JIT section).
 *
 * plan_cache_mode = force_generic_plan: a statement prepared on a connection (prepared-statement.ts) is planned once
 * and that plan serves every execution. By default PostgreSQL compares the first five executions' plans, made for
 * their values, with one made for any value, and kept planning each execution afresh whenever the plan for any value
 * was estimated dearer, which it was for the searches: 0.6-0.7 ms of planning in every execution of a staff search
 * (the server's log: bind 0.69-0.74 ms, execute 0.16 ms; with the setting, bind 0.04 ms). The prepared statements are
 * written so that their plan does not depend on their values (search/match-source.ts, test/statement-plans.test.ts
 * explains each one's plan for any value, test/stale-statistics.test.ts their speed without statistics). Statements
 * that are not prepared are planned for their values every time, as before.
 */
const SESSION_SETTINGS = 'set jit = off; set plan_cache_mode = force_generic_plan';

function openPostgres(connectionString: string, statementTimeoutMs: number): Database {
  // keepAlive: a server that vanishes without closing its sockets (host down, network cut) is noticed by
  // TCP keepalive instead of leaving queries waiting forever. statement_timeout (STATEMENT_TIMEOUT_MS): the server
  // stops any statement that runs longer, so no request holds a backend and a connection for minutes.
  const pool = new Pool({
    connectionString,
    max: 20,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
  });
  // A server restart kills idle clients; pg emits the error on the pool, and the pool replaces them.
  pool.on('error', () => undefined);
  // A client checked out when its connection dies emits 'error' too, and pg-pool listens only while it
  // is idle: without this listener that event would crash the process. The query itself still rejects
  // (mapped to 503), and the pool discards the dead client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    // Sent before anything the connection's first user sends (a client runs its queries in order). Should it fail,
    // the connection is broken and its next query fails too.
    client.query(SESSION_SETTINGS).catch(() => undefined);
    prepareMarkedStatements(client);
  });
  pool.on('release', (_err: unknown, client: PoolClient) => forgetHeldBegin.get(client)?.());
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'postgres',
    ping: () => ping(db),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => db.destroy(),
  };
}

/** Per pooled connection, how to drop a BEGIN it holds back (see prepareMarkedStatements). */
const forgetHeldBegin = new WeakMap<PoolClient, () => void>();

/**
 * A statement whose text starts with PREPARED (or PREPARED_SHAPE, while few shapes are; see prepared-statement.ts)
 * runs as a named prepared statement on each connection: PostgreSQL parses and plans it once per connection instead
 * of on every call. Only hot statements of a bounded number of texts carry the mark, so each connection holds a
 * bounded number of them. One that starts with COPY_OUT runs as a binary COPY (copy-out-query.ts); one with a
 * ByteChunks value as a ChunkedBindQuery. A BEGIN is held back and goes out with the transaction's first statement
 * (held-begin.ts); a transaction that ends before running any statement sends nothing at all.
 */
function prepareMarkedStatements(client: PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const settle =
    <T>(resolve: (value: T) => void, reject: (err: Error) => void) =>
    (err: Error | null, result?: T): void =>
      err ? reject(err) : resolve(result!);
  const run = (text: unknown, values?: unknown, callback?: unknown, begin?: string): unknown => {
    if (typeof text === 'string' && callback === undefined && text.startsWith(COPY_OUT)) {
      if (Array.isArray(values) && values.length)
        return Promise.reject(new Error('A COPY takes no parameters: its values must be literals'));
      // A COPY goes out in the simple protocol, which cannot follow a held BEGIN under one Sync: the BEGIN goes first.
      const begun = begin ? (query(begin) as Promise<unknown>) : undefined;
      const copied = new Promise<CopyOutResult>((resolve, reject) => void query(new CopyOutQuery(text, settle(resolve, reject))));
      return begun ? Promise.all([begun, copied]).then(([, result]) => result) : copied;
    }
    if (typeof text === 'string' && callback === undefined && Array.isArray(values) && values.some((v) => v instanceof ByteChunks))
      return new Promise<ChunkedBindResult>((resolve, reject) => {
        query(new ChunkedBindQuery(text, values, settle(resolve, reject), begin));
      });
    if (begin && typeof text === 'string')
      return new Promise((resolve, reject) => {
        query(new StatementAfterBegin(begin, text, values as unknown[] | undefined, settle(resolve, reject)));
      });
    // Both marks are comments (PREPARED, PREPARED_SHAPE): other statements are spared the lookup of a name.
    const name = typeof text === 'string' && text.startsWith('/*') ? preparedName(text) : undefined;
    return name ? query({ name, text, values }, callback) : query(text, values, callback);
  };
  // The BEGIN held back, if any; dropped when the connection goes back to the pool (its user ended the transaction).
  let held: string | undefined;
  forgetHeldBegin.set(client, () => (held = undefined));
  (client as { query: unknown }).query = (text: unknown, values?: unknown, callback?: unknown) => {
    const plain = typeof text === 'string' && callback === undefined;
    if (plain && startsTransaction(text) && !(Array.isArray(values) && values.length)) {
      held = text;
      return Promise.resolve({ command: 'BEGIN', rowCount: null, rows: [] });
    }
    if (held !== undefined && plain && /^\s*(commit|rollback)\b/i.test(text)) {
      // Nothing ran in the transaction: there is nothing to end.
      held = undefined;
      return Promise.resolve({ command: text.trim().split(/\s/)[0].toUpperCase(), rowCount: null, rows: [] });
    }
    if (held !== undefined && !plain) {
      // Another kind of call (a callback, a query object): the BEGIN goes out on its own, first.
      (query(held) as Promise<unknown>).catch(() => undefined);
      held = undefined;
    }
    const statements = currentStatementScope();
    if (!statements || callback !== undefined || (typeof text === 'string' && endsTransaction(text)))
      return run(text, values, callback, take());
    if (statements.aborted) return Promise.reject(new StatementCancelledError());
    // The request's client leaves while this statement runs: ask the server to cancel it (57014, then a rollback).
    return statements.whileRunning(run(text, values, undefined, take()) as Promise<unknown>, () => cancelBackend(client));
  };
  function take(): string | undefined {
    const begin = held;
    held = undefined;
    return begin;
  }
}

/** How long a cancelled statement's connection waits, at most, for its cancel request to be delivered. */
const CANCEL_DELIVERY_WAIT_MS = 2000;

/**
 * Sends PostgreSQL's cancel request for what a client is running, on a connection of its own (pg's Client.cancel),
 * so it works even when every pooled connection is busy. Resolves once the server has taken the request (it closes
 * that connection after signalling the backend), or after CANCEL_DELIVERY_WAIT_MS.
 *
 * Why wait: the request names the backend, not the statement. Sent as a statement ends, it used to reach the backend
 * after the connection had gone back to the pool and on to another user, and cancelled that user's statement
 * instead: the audit log's shared pass, and with it every AuditEvent search waiting on the pass (503s at 50
 * connections). A backend signalled while idle ignores the request, so once it is delivered the connection is safe.
 */
function cancelBackend(client: PoolClient): Promise<void> {
  const active = (client as unknown as { activeQuery?: unknown }).activeQuery;
  if (!active) return Promise.resolve();
  const canceller = new Client((client as unknown as { connectionParameters: object }).connectionParameters);
  const wire = (canceller as unknown as { connection: EventEmitter }).connection;
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CANCEL_DELIVERY_WAIT_MS);
    timer.unref();
    const delivered = (): void => {
      clearTimeout(timer);
      resolve();
    };
    wire.once('end', delivered);
    // Kept for the connection's life: an error after the end must not go unheard (it would end the process).
    wire.on('error', delivered);
    (canceller as unknown as { cancel(target: PoolClient, query: unknown): void }).cancel(client, active);
  });
}

/**
 * Opens the embedded database in dir (in memory without one, started from the data directory image `from` when
 * given). Creating a new data directory runs initdb inside the process, and PGlite keeps that run's WebAssembly memory
 * (about 450 MB) for as long as the instance lives; so a new directory is created, closed, and opened again, which
 * starts the server near 400 MB instead of 850 MB.
 */
async function openPGlite(dir: string | undefined, from?: Blob): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (dir) fs.mkdirSync(dir, { recursive: true });
  if (dir && !fs.existsSync(path.join(dir, 'PG_VERSION'))) await (await PGlite.create(dir)).close();
  const pglite = await PGlite.create(dir ?? 'memory://', from ? { loadDataDir: from } : {});
  const db = new Kysely<Tables>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    ping: () => ping(db),
    dumpDataDir: async () => {
      const image = await pglite.dumpDataDir('none');
      return image instanceof Blob ? image : new Blob([image]);
    },
    close: () => db.destroy(),
  };
}

async function ping(db: Kysely<Tables>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
