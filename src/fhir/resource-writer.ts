import type { Resource } from '@medplum/fhirtypes';
import { Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables';
import { patientCompartmentParams } from './definitions';
import { indexValues, IndexRows } from './search/index-values';

/** One version of one resource, with everything that is written for it, ready to insert. */
export interface PreparedWrite {
  readonly resource: Resource & { id: string };
  readonly content: string;
  readonly version: number;
  readonly lastUpdated: string;
  readonly deleted: boolean;
  readonly compartments: string[];
  readonly index: IndexRows;
}

/** SQL type of an index column, for the unnest casts (everything not listed is text). */
function columnType(table: string, column: string): string {
  if (column === 'low' || column === 'high') return 'timestamptz';
  if (table === 'search_quantity' && column === 'value') return 'numeric';
  return 'text';
}

const EMPTY_INDEX: IndexRows = { token: [], string: [], date: [], reference: [], quantity: [] };

/** Stamps id and meta onto the resource and computes its index rows and patient compartments. */
export function prepareWrite(resource: Resource & { id: string }, version: number, now: Date, extraCompartments: string[] = []): PreparedWrite {
  const lastUpdated = now.toISOString();
  const stamped = {
    ...resource,
    meta: { ...resource.meta, versionId: String(version), lastUpdated },
  } as Resource & { id: string };
  const index = indexValues(stamped);
  return {
    resource: stamped,
    content: JSON.stringify(stamped),
    version,
    lastUpdated,
    deleted: false,
    compartments: compartmentsOf(stamped, index, extraCompartments),
    index,
  };
}

/** A tombstone version: gone from search, history kept, still in the same compartments for access checks. */
export function prepareDelete(type: string, id: string, version: number, now: Date, compartments: string[]): PreparedWrite {
  return {
    resource: { resourceType: type, id } as Resource & { id: string },
    content: '{}',
    version,
    lastUpdated: now.toISOString(),
    deleted: true,
    compartments,
    index: EMPTY_INDEX,
  };
}

function compartmentsOf(resource: Resource & { id: string }, index: IndexRows, extra: string[]): string[] {
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

/** Inserts brand-new resources (and their first history rows and index rows) in a few statements. */
export async function insertNew(db: Kysely<Tables>, writes: PreparedWrite[]): Promise<void> {
  if (!writes.length) return;
  for (const chunk of chunks(writes, 1000)) {
    await db.insertInto('resource').values(chunk.map(resourceRow)).execute();
  }
  await insertHistoryAndIndex(db, writes);
}

/** Replaces the current row of existing resources with a new version (the caller checked versions). */
export async function replaceCurrent(db: Kysely<Tables>, writes: PreparedWrite[]): Promise<void> {
  if (!writes.length) return;
  for (const write of writes) {
    await db
      .updateTable('resource')
      .set({
        version: write.version,
        last_updated: write.lastUpdated,
        deleted: write.deleted,
        content: write.content,
        compartments: write.compartments,
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
}

async function insertHistoryAndIndex(db: Kysely<Tables>, writes: PreparedWrite[]): Promise<void> {
  for (const chunk of chunks(writes, 1000)) {
    await db
      .insertInto('resource_history')
      .values(chunk.map(historyRow))
      .execute();
  }
  const columns = {
    search_token: ['code', 'system', 'value', 'text'],
    search_string: ['code', 'value', 'exact'],
    search_date: ['code', 'low', 'high'],
    search_reference: ['code', 'target_type', 'target_id'],
    search_quantity: ['code', 'value', 'system', 'unit'],
  } as const;
  const kinds = { search_token: 'token', search_string: 'string', search_date: 'date', search_reference: 'reference', search_quantity: 'quantity' } as const;
  for (const table of Object.keys(columns) as (keyof typeof columns)[]) {
    const names = ['resource_type', 'resource_id', ...columns[table]];
    const arrays: (string | null)[][] = names.map(() => []);
    for (const w of writes) {
      for (const row of w.index[kinds[table]] as Record<string, string | null>[]) {
        arrays[0].push(w.resource.resourceType);
        arrays[1].push(w.resource.id);
        columns[table].forEach((name, i) => arrays[i + 2].push(row[name]));
      }
    }
    if (!arrays[0].length) continue;
    // One statement per table with one array parameter per column: far cheaper to parse and bind than
    // thousands of VALUES tuples, which is what makes bulk imports fast.
    const casts = names.map((name, i) => sql`${arrays[i]}::${sql.raw(columnType(table, name))}[]`);
    await sql`insert into ${sql.table(table)} (${sql.join(names.map((n) => sql.ref(n)))}) select * from unnest(${sql.join(casts)})`.execute(db);
  }
}

function resourceRow(w: PreparedWrite) {
  return {
    resource_type: w.resource.resourceType,
    id: w.resource.id,
    version: w.version,
    last_updated: w.lastUpdated,
    deleted: w.deleted,
    content: w.content,
    compartments: w.compartments,
  };
}

function historyRow(w: PreparedWrite) {
  return {
    resource_type: w.resource.resourceType,
    id: w.resource.id,
    version: w.version,
    last_updated: w.lastUpdated,
    deleted: w.deleted,
    content: w.content,
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
    .select(['version', 'deleted', 'compartments', 'content'])
    .where('resource_type', '=', type)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}
