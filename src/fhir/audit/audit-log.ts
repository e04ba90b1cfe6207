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
import { GroupCommit } from '../../db/group-commit';
import { prepared } from '../../db/prepared-statement';
import { outsideStatementScope } from '../../db/statement-scope';
import type { Tables } from '../../db/tables';
import { insertNew, type PreparedWrite, prepareWrite } from '../resource-writer';
import { type AuditEventInput, buildAuditEvent } from '../../access/audit-event';

/** One access record: a caller's access to one patient's record in one request. */
export type AuditEntry = AuditEventInput;

/*
 * Pending rows become AuditEvents when someone reads AuditEvents, and every second in the audit-pass job
 * (src/jobs/audit-pass-job.ts). Each event has a fixed cost (a statement, ~13 index rows, its history row), so
 * fewer, fuller events are cheaper: at 4,000 audited reads/s a pass every 25 ms cost PostgreSQL ~150 µs per read,
 * every 100 ms ~100 µs, every second ~85 µs. A pass yields to the event loop as it goes, so requests are not held
 * up while it turns thousands of rows into events; rows are taken with skip locked, so passes on several
 * instances never take the same row.
 */
/** Rows turned into AuditEvents per transaction. */
const CHUNK = 5000;

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

/**
 * Turns every access committed so far into AuditEvents; call before reading AuditEvents. `pending`: the caller saw rows
 * waiting (a search page's own statement asks), so the pass need not look for them first.
 */
export function settleAuditLog(db: Kysely<Tables>, options: { pending?: boolean } = {}): Promise<void> {
  // Inside a transaction the rows of this very transaction are not yet visible to another connection, and the
  // embedded database has only one: what is pending is left to the next settle outside it.
  if (db.isTransaction) return Promise.resolve();
  return logFor(db).settle(options.pending === true);
}

/** A last pass once requests have stopped; call before closing the database. A failure leaves rows for the next start. */
export async function stopAuditLog(db: Kysely<Tables>): Promise<void> {
  const log = logs.get(db);
  if (log) await log.settle().catch(() => undefined);
}

const logs = new WeakMap<Kysely<Tables>, AuditLog>();

function logFor(db: Kysely<Tables>): AuditLog {
  let log = logs.get(db);
  if (!log) logs.set(db, (log = new AuditLog(db)));
  return log;
}

/** The entries (each its JSON text) travel as one JSON array, as they are: nothing to escape again. */
function insertEntries(db: Kysely<Tables>, rows: string[]): Promise<void> {
  return prepared(sql`insert into audit_log (entry) select jsonb_array_elements(${`[${rows.join(',')}]`}::jsonb)`)
    .execute(db)
    .then(() => undefined);
}

class AuditLog {
  /** Requests that end while an insert is running go in together with the next one. */
  private readonly inserts: GroupCommit<string>;
  /** The pass running now, and the one queued after it (which every settle() arriving meanwhile shares). */
  private current: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  /** A caller of the queued pass saw rows waiting: it takes them without first asking whether there are any. */
  private nextPending = false;

  constructor(private readonly db: Kysely<Tables>) {
    this.inserts = new GroupCommit((rows) => insertEntries(db, rows));
  }

  append(rows: string[]): Promise<void> {
    return this.inserts.add(rows);
  }

  /**
   * A pass that starts after every commit made before this call (`pending`: rows are known to wait). The pass is
   * shared by every caller until it starts, and by the audit-pass job, so it runs outside the statement scope of the
   * request that happened to start it: that client's leaving must not cancel it for the others.
   */
  settle(pending = false): Promise<void> {
    if (pending) this.nextPending = true;
    if (this.next) return this.next;
    return outsideStatementScope(() => this.queuePass());
  }

  private queuePass(): Promise<void> {
    const after = this.current ?? Promise.resolve();
    const pass: Promise<void> = after
      .catch(() => undefined)
      .then(() => {
        const known = this.nextPending;
        this.next = undefined;
        this.nextPending = false;
        this.current = pass;
        return this.materialize(known);
      })
      .finally(() => {
        if (this.current === pass) this.current = undefined;
      });
    this.next = pass;
    return pass;
  }

  private async materialize(pending: boolean): Promise<void> {
    // Each chunk starts past the last row the one before took: the oldest pending rows come from the primary key in
    // order, whatever the planner believes of the table. A row that commits meanwhile with a lower seq waits for the
    // next pass, which starts from the beginning again.
    let after = 0n;
    for (let first = true; ; first = false) {
      // Whether any row waits, unless the caller saw some: the chunk's transaction would find nothing to take.
      if (!(first && pending)) {
        const { rows: waiting } = await sql<{
          one: number;
        }>`select 1 as one from audit_log where seq > ${String(after)}::bigint limit 1`.execute(this.db);
        if (!waiting.length) return;
      }
      const chunk = await this.db.transaction().execute(async (trx) => {
        const taken = await takeMerged(trx, CHUNK, after);
        const writes: PreparedWrite[] = [];
        for (const entry of taken.entries) {
          writes.push(toWrite(entry));
          await yieldToRequests();
        }
        await insertNew(trx, writes);
        return taken;
      });
      if (chunk.taken < CHUNK || chunk.last === undefined) return;
      after = chunk.last;
    }
  }
}

function toWrite(entry: AuditEntry): PreparedWrite {
  return prepareWrite({ ...buildAuditEvent(entry), id: randomUUID() }, 1, entry.recorded);
}

/**
 * Takes (deletes) up to `limit` of the oldest rows after seq `after` and returns them merged: entries with the same
 * agent, patient, interaction, operation and recipient in the same second become one, naming the union of their
 * resources, recorded at the latest of their times and covering the period since the earliest. PostgreSQL parses and
 * groups the rows, so the service's event loop handles a few dozen merged entries instead of thousands of rows.
 * `last`: the highest seq taken.
 *
 * Why two statements: the log fills and empties, so its statistics are nearly always wrong (taken when it was empty,
 * or full). `delete ... where seq in (select ... limit N for update skip locked)` joins the table to itself, and a
 * plan made for an empty table ran for minutes over a 68,000-row backlog. Here the rows are locked by a range on the
 * primary key in its order (`seq > $after order by seq limit N`), and deleted by their seqs within that range: no
 * plan of either statement can do more than read the table once.
 */
export async function takeMerged(
  db: Kysely<Tables>,
  limit: number,
  after = 0n,
): Promise<{ taken: number; entries: AuditEntry[]; last?: bigint }> {
  const { rows: locked } = await sql<{ seq: string }>`
    select seq from audit_log where seq > ${String(after)}::bigint order by seq limit ${limit} for update skip locked`.execute(db);
  if (!locked.length) return { taken: 0, entries: [] };
  const seqs = locked.map((row) => row.seq);
  const first = seqs[0];
  const last = seqs[seqs.length - 1];
  // toISOString() times (UTC, fixed width) order as text, and their first 19 characters name their second.
  const { rows } = await sql<{
    patient_id: string;
    interaction: string;
    operation: string | null;
    recipient: string | null;
    agent: string;
    since: string;
    recorded: string;
    resources: string[];
    n: number;
  }>`
    with moved as (
      delete from audit_log where seq >= ${first}::bigint and seq <= ${last}::bigint and seq = any(${`{${seqs.join(',')}}`}::bigint[])
      returning entry as e),
    grouped as (
      select e->>'patientId' as patient_id, e->>'interaction' as interaction, e->>'operation' as operation, e->>'recipient' as recipient, e->'agent' as agent,
        min(coalesce(e->>'since', e->>'recorded')) as since, max(e->>'recorded') as recorded, jsonb_agg(e->'resources') as lists, count(*)::int as n
      from moved
      group by 1, 2, 3, 4, 5, left(e->>'recorded', 19))
    select patient_id, interaction, operation, recipient, agent::text as agent, since, recorded, n,
      array(select distinct r from jsonb_array_elements(lists) l, jsonb_array_elements_text(l) r) as resources
    from grouped order by recorded`.execute(db);
  let taken = 0;
  const entries = rows.map((row): AuditEntry => {
    taken += row.n;
    return {
      patientId: row.patient_id,
      agent: JSON.parse(row.agent) as AuditEntry['agent'],
      interaction: row.interaction as AuditEntry['interaction'],
      ...(row.operation !== null ? { operation: row.operation } : {}),
      ...(row.recipient !== null ? { recipient: row.recipient } : {}),
      resources: row.resources,
      recorded: new Date(row.recorded),
      since: new Date(row.since),
    };
  });
  return { taken, entries, last: BigInt(last) };
}
