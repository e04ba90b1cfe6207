/**
 * The durable outbox between a request and its AuditEvents. A request's access records are committed to
 * `audit_log` (one small row each, concurrent requests sharing one insert and one commit) before the request is
 * answered, so nothing is ever served unrecorded, and a crash loses nothing. In the background, and before anyone
 * reads AuditEvents, the rows become AuditEvent resources: rows with the same agent, patient, interaction and
 * operation within one second become one event naming all their resources, with a period from the first access
 * to the last.
 *
 * Why: an AuditEvent costs PostgreSQL ~0.1 ms of CPU (a resource row, its history row, ~13 index rows) plus
 * ~0.3 ms for a statement of its own. Written per read, that was most of the cost of a staff read under load;
 * a chart that opens with twenty parallel reads now leaves one event, and the read pays for a short row.
 */
import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { GroupCommit } from '../db/group-commit';
import { prepared } from '../db/prepared-statement';
import type { Tables } from '../db/tables';
import { insertNew, type PreparedWrite, prepareWrite } from '../fhir/resource-writer';
import { type AuditEventInput, buildAuditEvent } from './audit-event';

/** One access record: a caller's access to one patient's record in one request. */
export type AuditEntry = AuditEventInput;

/**
 * How often pending rows become AuditEvents when nobody asks sooner. Each event has a fixed cost (a statement, ~13
 * index rows, its history row), so fewer, fuller events are cheaper: at 4,000 audited reads/s a pass every 25 ms
 * cost PostgreSQL ~150 µs per read, every 100 ms ~100 µs, every second ~85 µs. A pass yields to the event loop as
 * it goes, so requests are not held up while it turns thousands of rows into events.
 */
const MATERIALIZE_MS = 1000;
/** Rows turned into AuditEvents per transaction. */
const CHUNK = 5000;
/** Rows parsed between two turns of the event loop. */
const YIELD_EVERY = 250;

/** Lets waiting requests run before the next slice of background work. */
const yieldToRequests = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Records entries durably: inside a transaction with it (a write and its record commit together), otherwise
 * batched with other requests' entries. Settles once they are committed.
 */
export function appendAudit(db: Kysely<Tables>, entries: readonly AuditEntry[]): Promise<void> {
  if (!entries.length) return Promise.resolve();
  const rows = entries.map((entry) => JSON.stringify(entry));
  if (db.isTransaction) return insertEntries(db, rows);
  return logFor(db).append(rows);
}

/** Turns every access committed so far into AuditEvents; call before reading AuditEvents. */
export function settleAuditLog(db: Kysely<Tables>): Promise<void> {
  // Inside a transaction the rows of this very transaction are not yet visible to another connection, and the
  // embedded database has only one: what is pending is left to the next settle outside it.
  if (db.isTransaction) return Promise.resolve();
  return logFor(db).settle();
}

/** Starts turning the log into AuditEvents every MATERIALIZE_MS (the server does this once at start). */
export function startAuditLog(db: Kysely<Tables>): void {
  logFor(db).start();
}

/** Stops the background work after a last pass; call before closing the database. */
export async function stopAuditLog(db: Kysely<Tables>): Promise<void> {
  const log = logs.get(db);
  if (log) await log.stop();
}

const logs = new WeakMap<Kysely<Tables>, AuditLog>();

function logFor(db: Kysely<Tables>): AuditLog {
  let log = logs.get(db);
  if (!log) logs.set(db, (log = new AuditLog(db)));
  return log;
}

function insertEntries(db: Kysely<Tables>, rows: string[]): Promise<void> {
  return prepared(sql`insert into audit_log (entry) select unnest(${rows}::text[])`)
    .execute(db)
    .then(() => undefined);
}

class AuditLog {
  /** Requests that end while an insert is running go in together with the next one. */
  private readonly inserts: GroupCommit<string>;
  private timer: NodeJS.Timeout | undefined;
  /** The pass running now, and the one queued after it (which every settle() arriving meanwhile shares). */
  private current: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly db: Kysely<Tables>) {
    this.inserts = new GroupCommit((rows) => insertEntries(db, rows));
  }

  append(rows: string[]): Promise<void> {
    return this.inserts.add(rows);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // A failed pass (database down) leaves the rows where they are for the next one.
      this.settle().catch(() => undefined);
    }, MATERIALIZE_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.settle().catch(() => undefined);
  }

  /** A pass that starts after every commit made before this call. */
  settle(): Promise<void> {
    if (this.next) return this.next;
    const after = this.current ?? Promise.resolve();
    const pass: Promise<void> = after
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        this.current = pass;
        return this.materialize();
      })
      .finally(() => {
        if (this.current === pass) this.current = undefined;
      });
    this.next = pass;
    return pass;
  }

  private async materialize(): Promise<void> {
    for (;;) {
      const { rows: waiting } = await sql<{ one: number }>`select 1 as one from audit_log limit 1`.execute(this.db);
      if (!waiting.length) return;
      const moved = await this.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ entry: string }>`
          delete from audit_log where seq in (select seq from audit_log order by seq limit ${CHUNK} for update skip locked)
          returning entry`.execute(trx);
        const entries: AuditEntry[] = [];
        for (let i = 0; i < rows.length; i++) {
          entries.push(reviveEntry(rows[i].entry));
          if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToRequests();
        }
        const writes: PreparedWrite[] = [];
        for (const entry of mergeEntries(entries)) {
          writes.push(toWrite(entry));
          await yieldToRequests();
        }
        await insertNew(trx, writes);
        return rows.length;
      });
      if (moved < CHUNK) return;
    }
  }
}

function reviveEntry(text: string): AuditEntry {
  const entry = JSON.parse(text) as AuditEntry & { recorded: string; since?: string };
  return { ...entry, recorded: new Date(entry.recorded), ...(entry.since ? { since: new Date(entry.since) } : {}) };
}

function toWrite(entry: AuditEntry): PreparedWrite {
  return prepareWrite({ ...buildAuditEvent(entry), id: randomUUID() }, 1, entry.recorded);
}

/**
 * Entries with the same agent, patient, interaction and operation in the same second become one, naming the union
 * of their resources, recorded at the latest of their times and covering the period since the earliest.
 */
export function mergeEntries(entries: readonly AuditEntry[]): AuditEntry[] {
  const merged = new Map<string, { entry: AuditEntry; resources: Set<string> }>();
  for (const entry of entries) {
    const second = Math.floor(entry.recorded.getTime() / 1000);
    const key = `${entry.patientId}\u0000${entry.interaction}\u0000${entry.operation ?? ''}\u0000${second}\u0000${JSON.stringify(entry.agent)}`;
    const same = merged.get(key);
    if (!same) {
      merged.set(key, { entry: { ...entry, since: entry.since ?? entry.recorded }, resources: new Set(entry.resources) });
      continue;
    }
    for (const resource of entry.resources) same.resources.add(resource);
    const since = entry.since ?? entry.recorded;
    same.entry = {
      ...same.entry,
      recorded: entry.recorded > same.entry.recorded ? entry.recorded : same.entry.recorded,
      since: since < same.entry.since! ? since : same.entry.since,
    };
  }
  return [...merged.values()].map(({ entry, resources }) => ({ ...entry, resources: [...resources] }));
}
