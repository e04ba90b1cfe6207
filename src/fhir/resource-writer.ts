import type { Resource } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
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

/** A tombstone version: the resource is gone from search but its history stays. */
export function prepareDelete(type: string, id: string, version: number, now: Date): PreparedWrite {
  return {
    resource: { resourceType: type, id } as Resource & { id: string },
    content: '{}',
    version,
    lastUpdated: now.toISOString(),
    deleted: true,
    compartments: [],
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
  const token = [], string = [], date = [], reference = [], quantity = [];
  for (const w of writes) {
    const key = { resource_type: w.resource.resourceType, resource_id: w.resource.id };
    for (const row of w.index.token) token.push({ ...key, ...row });
    for (const row of w.index.string) string.push({ ...key, ...row });
    for (const row of w.index.date) date.push({ ...key, ...row });
    for (const row of w.index.reference) reference.push({ ...key, ...row });
    for (const row of w.index.quantity) quantity.push({ ...key, ...row });
  }
  for (const c of chunks(token, 5000)) await db.insertInto('search_token').values(c).execute();
  for (const c of chunks(string, 5000)) await db.insertInto('search_string').values(c).execute();
  for (const c of chunks(date, 5000)) await db.insertInto('search_date').values(c).execute();
  for (const c of chunks(reference, 5000)) await db.insertInto('search_reference').values(c).execute();
  for (const c of chunks(quantity, 5000)) await db.insertInto('search_quantity').values(c).execute();
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
