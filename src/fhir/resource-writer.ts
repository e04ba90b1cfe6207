import type { Resource } from '@medplum/fhirtypes';
import { Kysely, type RawBuilder, sql } from 'kysely';
import type { Tables } from '../db/tables';
import { ownerParams, ownersFrom } from '../access/record-owners';
import { patientCompartmentParams } from './definitions';
import { indexValues, IndexRows } from './search/index-values';
import { GroupCommit } from '../db/group-commit';
import { arrayLiteral } from '../db/array-literal';
import { prepared } from '../db/prepared-statement';
import {
  type ActiveSubscription,
  activeSubscriptions,
  matchDeletions,
  mayNotify,
  queueNotifications,
  watchedTypes,
} from './subscriptions/subscription-outbox';
import type { SubscriptionOwner } from './subscriptions/subscription-write-check';

/** One version of one resource, with everything that is written for it, ready to insert. */
export interface PreparedWrite {
  readonly resource: Resource & { id: string };
  readonly content: string;
  readonly version: number;
  readonly lastUpdated: string;
  readonly deleted: boolean;
  readonly compartments: string[];
  /** Whose record it belongs to, which access follows (src/access/record-owners.ts). */
  readonly owners: string[];
  readonly index: IndexRows;
  /** A Subscription written by a caller: whose it is now, and the access it notifies with (subscription-outbox.ts). */
  readonly subscriptionOwner?: SubscriptionOwner;
}

/** Where a resource whose place is not in its own links belongs (a Binary: the resource its securityContext names). */
export interface PlacedBy {
  readonly compartments?: readonly string[];
  readonly owners?: readonly string[];
}

/** SQL type of an index column, for the unnest casts (everything not listed is text). */
function columnType(table: string, column: string): string {
  if (column === 'low' || column === 'high' || column === 'last_updated') return 'timestamptz';
  if (table === 'search_quantity' && column === 'value') return 'numeric';
  return 'text';
}

const EMPTY_INDEX: IndexRows = { token: [], string: [], date: [], reference: [], quantity: [] };

/**
 * Index rows computed ahead of the write (by the write preparation pool, off the main thread), keyed
 * by the very resource object that will be written. Weak, so nothing outlives the write.
 */
const precomputedIndex = new WeakMap<Resource, IndexRows>();

/**
 * Records index rows computed elsewhere for this resource object, so prepareWrite need not compute
 * them again. The rows must be indexValues(resource): stamping meta.versionId and meta.lastUpdated
 * does not change them, as no indexed search parameter reads either.
 */
export function rememberIndex(resource: Resource, index: IndexRows): void {
  precomputedIndex.set(resource, index);
}

/** Stamps id and meta onto the resource and computes its index rows, patient compartments and owners. */
export function prepareWrite(resource: Resource & { id: string }, version: number, now: Date, placed: PlacedBy = {}): PreparedWrite {
  const lastUpdated = now.toISOString();
  const stamped = {
    ...resource,
    meta: { ...resource.meta, versionId: String(version), lastUpdated },
  } as Resource & { id: string };
  const index = precomputedIndex.get(resource) ?? indexValues(stamped);
  const compartments = compartmentsOf(stamped, index, placed.compartments ?? []);
  return {
    resource: stamped,
    content: JSON.stringify(stamped),
    version,
    lastUpdated,
    deleted: false,
    compartments,
    owners: placed.owners ? [...placed.owners] : ownersOf(stamped, index, compartments),
    index,
  };
}

/** A tombstone version: gone from search, history kept, still in the same compartments and records for access checks. */
export function prepareDelete(
  type: string,
  id: string,
  version: number,
  now: Date,
  place: { compartments: string[]; owners: string[] },
): PreparedWrite {
  return {
    resource: { resourceType: type, id } as Resource & { id: string },
    content: '{}',
    version,
    lastUpdated: now.toISOString(),
    deleted: true,
    compartments: place.compartments,
    owners: place.owners,
    index: EMPTY_INDEX,
  };
}

function compartmentsOf(resource: Resource & { id: string }, index: IndexRows, extra: readonly string[]): string[] {
  const ids = new Set(extra);
  if (resource.resourceType === 'Patient') ids.add(resource.id);
  const params = patientCompartmentParams(resource.resourceType);
  if (params.length) {
    for (const row of index.reference) {
      if (row.target_type === 'Patient' && params.includes(row.code)) ids.add(row.target_id);
    }
  }
  return [...ids];
}

/** A stored resource's compartments and owners, as a write computes them (for data written before owners existed). */
export function placeOf(resource: Resource & { id: string }): { compartments: string[]; owners: string[] } {
  const index = indexValues(resource);
  const compartments = compartmentsOf(resource, index, []);
  return { compartments, owners: ownersOf(resource, index, compartments) };
}

/** The patients whose record the resource belongs to: a Patient its own; others their subject's (record-owners.ts). */
export function ownersOf(resource: Resource & { id: string }, index: IndexRows, compartments: readonly string[]): string[] {
  if (resource.resourceType === 'Patient') return [resource.id];
  const params = ownerParams(resource.resourceType, patientCompartmentParams(resource.resourceType));
  const named: string[] = [];
  for (const row of index.reference) {
    if (row.target_type === 'Patient' && params.includes(row.code) && compartments.includes(row.target_id)) named.push(row.target_id);
  }
  return ownersFrom(compartments, named);
}

/** Most resources one insert statement carries. */
const STATEMENT_ROWS = 2000;

/**
 * Inserts brand-new resources, their first history rows and their index rows. Inside a transaction the
 * rows go in with it; outside one (e.g. the AuditEvents a read leaves behind) concurrent callers share one
 * statement and one commit (see GroupCommit), and each caller's promise settles once its rows are committed.
 * `alongside`: other writes, as common table expressions, that go in the same statement (the bytes of a Binary
 * written with it, BinaryStore.writeWith), so they cost no round trip of their own.
 */
export async function insertNew(
  db: Kysely<Tables>,
  writes: PreparedWrite[],
  alongside: readonly RawBuilder<unknown>[] = [],
): Promise<void> {
  if (!writes.length) {
    if (alongside.length) throw new Error('Writes to go alongside the versions need versions to go with');
    return;
  }
  if (db.isTransaction) {
    // Subscriptions' notifications are queued in the same transaction (the outbox: src/fhir/subscriptions); the
    // statement that writes the versions reads the active Subscriptions they are matched against.
    const watched = watchedTypes(writes);
    const active = await insertRows(db, writes, watched, alongside);
    return queueNotifications(db, writes, [], watched && active);
  }
  if (alongside.length || writes.some(mayNotify)) return db.transaction().execute((trx) => insertNew(trx, writes, alongside));
  let group = writeGroups.get(db);
  if (!group) writeGroups.set(db, (group = new GroupCommit((batch) => insertAtomically(db, batch))));
  return group.add(writes);
}

/** One statement commits atomically on its own; more than one needs a transaction around them. */
async function insertAtomically(db: Kysely<Tables>, writes: PreparedWrite[]): Promise<void> {
  if (writes.length <= STATEMENT_ROWS) await insertRows(db, writes);
  else await db.transaction().execute((trx) => insertRows(trx, writes));
}

const writeGroups = new WeakMap<Kysely<Tables>, GroupCommit<PreparedWrite>>();

/**
 * One statement per chunk: the resource rows go in through unnest arrays, the history rows are copied
 * from what that insert returns (so each content is sent once), and each index table gets its own unnest
 * insert in the same statement. One round trip instead of seven, and nothing to plan per row.
 */
async function insertRows(
  db: Kysely<Tables>,
  writes: PreparedWrite[],
  watched?: readonly string[],
  alongside: readonly RawBuilder<unknown>[] = [],
): Promise<ActiveSubscription[]> {
  let active: ActiveSubscription[] = [];
  for (const [n, chunk] of chunks(writes, STATEMENT_ROWS).entries()) {
    const arrays = {
      type: [] as string[],
      id: [] as string[],
      version: [] as number[],
      lastUpdated: [] as string[],
      deleted: [] as boolean[],
      compartments: [] as string[],
      owners: [] as string[],
    };
    for (const w of chunk) {
      arrays.type.push(w.resource.resourceType);
      arrays.id.push(w.resource.id);
      arrays.version.push(w.version);
      arrays.lastUpdated.push(w.lastUpdated);
      arrays.deleted.push(w.deleted);
      // text[] cannot nest in unnest, so each row's compartments travel as one JSON array text.
      arrays.compartments.push(JSON.stringify(w.compartments));
      arrays.owners.push(JSON.stringify(w.owners));
    }
    // The contents (each already JSON) travel as one JSON array, as they are: a text[] literal would escape every
    // quote of every resource and PostgreSQL unescape it again. json (not jsonb) keeps each element's text exactly.
    const contents = `[${chunk.map((w) => w.content).join(',')}]`;
    const statements = [
      sql`r as (
        insert into resource (resource_type, id, version, last_updated, deleted, content, compartments, owners)
        select t, i, v, u, d, c.value::text, array(select json_array_elements_text(p::json)), array(select json_array_elements_text(o::json))
        from unnest(${arrayLiteral(arrays.type)}::text[], ${arrayLiteral(arrays.id)}::text[], ${arrayLiteral(arrays.version)}::int[],
          ${arrayLiteral(arrays.lastUpdated)}::timestamptz[], ${arrayLiteral(arrays.deleted)}::boolean[], ${arrayLiteral(arrays.compartments)}::text[],
          ${arrayLiteral(arrays.owners)}::text[])
          with ordinality as x(t, i, v, u, d, p, o, n)
        join json_array_elements(${contents}::json) with ordinality as c(value, n) using (n)
        returning resource_type, id, version, last_updated, deleted, content, compartments, owners)`,
      sql`h as (insert into resource_history (resource_type, id, version, last_updated, deleted, content, compartments, owners) select * from r)`,
      ...indexInserts(chunk).map((insert, i) => sql`${sql.raw(`i${i}`)} as (${insert})`),
      // The writes that go alongside, in the first statement (they name themselves).
      ...(n === 0 ? alongside : []),
    ];
    // The active Subscriptions on the written types, when asked: they are the same in every chunk.
    const result = watched?.length ? activeSubscriptions(watched) : sql<ActiveSubscription>`select 1`;
    const statement = sql<ActiveSubscription>`with ${sql.join(statements)} ${result}`;
    // One text per set of index tables with rows (at most 32 shapes, each with or without the Subscriptions), so it
    // is prepared once per connection; not one with bytes alongside, which goes out as it is (chunked-bind-query.ts).
    const { rows } = await (n === 0 && alongside.length ? statement : prepared(statement)).execute(db);
    if (watched?.length) active = rows;
  }
  return active;
}

/** Replaces the current row of existing resources with a new version (the caller checked versions). */
export async function replaceCurrent(db: Kysely<Tables>, writes: PreparedWrite[]): Promise<void> {
  if (!writes.length) return;
  // A delete notifies the Subscriptions the resource matched while it was there: matched before it leaves search.
  const deletions = await matchDeletions(db, writes);
  for (const write of writes) {
    await db
      .updateTable('resource')
      .set({
        version: write.version,
        last_updated: write.lastUpdated,
        deleted: write.deleted,
        content: write.content,
        compartments: write.compartments,
        owners: write.owners,
      })
      .where('resource_type', '=', write.resource.resourceType)
      .where('id', '=', write.resource.id)
      .execute();
  }
  for (const write of writes) {
    for (const table of ['search_token', 'search_string', 'search_date', 'search_reference', 'search_quantity'] as const) {
      await db
        .deleteFrom(table)
        .where('resource_id', '=', write.resource.id)
        .where('resource_type', '=', write.resource.resourceType)
        .execute();
    }
  }
  await insertHistoryAndIndex(db, writes);
  await queueNotifications(db, writes, deletions);
}

async function insertHistoryAndIndex(db: Kysely<Tables>, writes: PreparedWrite[]): Promise<void> {
  for (const chunk of chunks(writes, 1000)) {
    await db.insertInto('resource_history').values(chunk.map(historyRow)).execute();
  }
  for (const insert of indexInserts(writes)) await insert.execute(db);
}

const INDEX_COLUMNS = {
  search_token: ['code', 'system', 'value', 'text'],
  search_string: ['code', 'value', 'exact'],
  search_date: ['code', 'low', 'high'],
  search_reference: ['code', 'target_type', 'target_id'],
  search_quantity: ['code', 'value', 'system', 'unit'],
} as const;
const INDEX_KINDS = {
  search_token: 'token',
  search_string: 'string',
  search_date: 'date',
  search_reference: 'reference',
  search_quantity: 'quantity',
} as const;

/** One insert per index table that has rows, each with one array parameter per column. */
function indexInserts(writes: PreparedWrite[]) {
  const inserts = [];
  for (const table of Object.keys(INDEX_COLUMNS) as (keyof typeof INDEX_COLUMNS)[]) {
    const columns = INDEX_COLUMNS[table];
    // A reference row carries its resource's last_updated: one record's rows come newest first from its index.
    const stamped = table === 'search_reference';
    const names = ['resource_type', 'resource_id', ...columns, ...(stamped ? ['last_updated'] : [])];
    const arrays: (string | null)[][] = names.map(() => []);
    for (const w of writes) {
      for (const row of w.index[INDEX_KINDS[table]] as Record<string, string | null>[]) {
        arrays[0].push(w.resource.resourceType);
        arrays[1].push(w.resource.id);
        columns.forEach((name, i) => arrays[i + 2].push(row[name]));
        if (stamped) arrays[columns.length + 2].push(w.lastUpdated);
      }
    }
    if (!arrays[0].length) continue;
    // One array parameter per column: far cheaper to parse and bind than thousands of VALUES
    // tuples, which is what makes bulk imports fast.
    const casts = names.map((name, i) => sql`${arrayLiteral(arrays[i])}::${sql.raw(columnType(table, name))}[]`);
    inserts.push(sql`insert into ${sql.table(table)} (${sql.join(names.map((n) => sql.ref(n)))}) select * from unnest(${sql.join(casts)})`);
  }
  return inserts;
}

function historyRow(w: PreparedWrite) {
  return {
    resource_type: w.resource.resourceType,
    id: w.resource.id,
    version: w.version,
    last_updated: w.lastUpdated,
    deleted: w.deleted,
    content: w.content,
    compartments: w.compartments,
    owners: w.owners,
  };
}

function chunks<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Locks the current rows of these resources for the rest of the transaction. */
export async function lockCurrent(db: Kysely<Tables>, type: string, id: string) {
  return db
    .selectFrom('resource')
    .select(['version', 'deleted', 'compartments', 'owners', 'content'])
    .where('resource_type', '=', type)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}
