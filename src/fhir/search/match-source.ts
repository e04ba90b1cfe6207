/**
 * Where a search's matching rows come from, as the FROM (and WHERE) of one statement over `r`, the resource table.
 *
 * A search of one patient's record (`patient=Patient/X`, `subject=...`) starts from the reference index: the rows that
 * name X under that parameter, each then fetched by primary key and checked against the other filters and the
 * caller's access, row by row. That plan reads what the page needs whatever the planner believes of the tables: with
 * statistics taken while they were empty (a bulk load before any ANALYZE, autovacuum off) a search written as one
 * flat WHERE was planned as a walk over every Observation, 200x slower. Other searches keep the flat form, which lets
 * the planner start from whichever index its statistics favour.
 */
import { Filter, Operator, SearchRequest } from '@medplum/core';
import { RawBuilder, sql } from 'kysely';
import type { AccessScope } from '../../access/access-scope';
import { visibilityCondition } from '../../access/visibility';
import { searchParametersOf } from '../definitions';
import { filterCondition, type SlottedFilter, splitOr } from './search-filters';

type Sql = RawBuilder<unknown>;

/** The FROM ... WHERE of the rows of `r` that match the request and the caller may see. */
export function matchSource(scope: AccessScope, request: SearchRequest): Sql {
  const type = request.resourceType;
  const filters = request.filters ?? [];
  const visible = visibilityCondition(scope, type);
  const at = drivingFilter(request);
  if (at < 0) return flatSource(scope, request);
  // Each condition is evaluated on the one row at hand: "is true" keeps the planner from turning an exists into a
  // join over the whole index table, and "offset 0" keeps the row's lookup a lookup by primary key.
  const checks: Sql[] = [];
  if (visible) checks.push(sql`(${visible}) is true`);
  return drivenSource(scope, type, filters, at, checks);
}

/** One sort key of a page: an expression on `r` and its direction. */
export interface PageOrder {
  readonly key: Sql;
  readonly descending: boolean;
  /** Whether rows without a value come last (sort keys from the index tables). */
  readonly nullsLast: boolean;
  /** The key is a column of the resource row other than its id (last_updated), not something its index rows give. */
  readonly fromRow?: boolean;
  /** The key is the resource's id. */
  readonly isId?: boolean;
}

/**
 * One statement for one page of matches, in order, selecting `r.id`, `r.content` and `r.compartments`: `limit` rows
 * from `offset`. A search of one patient's record orders the matching rows by their keys alone (narrow rows: ids and
 * keys, however many the record holds), then takes them in that order and checks the caller's access on each until
 * the page is full, fetching the stored JSON of those rows only: the access conditions and the content of rows past
 * the page are never touched. When it sorts by a search parameter, the ids are filtered and ordered from the index
 * tables alone (pageByIndexKeys). Other searches are one flat statement the planner plans from its statistics.
 */
export function pageStatement(
  scope: AccessScope,
  request: SearchRequest,
  order: readonly PageOrder[],
  limit: number,
  offset: unknown,
): Sql {
  const type = request.resourceType;
  const at = drivingFilter(request);
  if (at < 0) {
    const by = order.map((o) => sql`${o.key} ${direction(o)}`);
    return sql`select r.id, r.content, r.compartments from ${flatSource(scope, request)}
      order by ${sql.join(by, sql`, `)} limit ${limit} offset ${offset}`;
  }
  if (newestFirst(order)) return pageNewestFirst(scope, request, limit, offset);
  const fromIndex = order.findIndex((o) => o.fromRow);
  if (fromIndex > 0) return pageByIndexKeys(scope, request, order, fromIndex, limit, offset);
  const keys = order.map((o, i) => sql`${o.key} as ${sql.id(`k${i}`)}`);
  const by = order.map((o, i) => sql`${sql.ref(`p.k${i}`)} ${direction(o)}`);
  const visible = visibilityCondition(scope, type);
  // "offset 0" keeps the ordered ids a subquery of their own, whose order the rows below follow without a second sort.
  return sql`select r.id, r.content, r.compartments
    from (select r.id, ${sql.join(keys, sql`, `)} from ${drivenSource(scope, type, request.filters ?? [], at, [])}
      order by ${sql.join(
        order.map((o, i) => sql`${sql.ref(`k${i}`)} ${direction(o)}`),
        sql`, `,
      )} offset 0) p
    cross join lateral (select r.id, r.content, r.compartments from resource r where r.resource_type = ${type} and r.id = p.id
      ${visible ? sql`and (${visible}) is true` : sql``} offset 0) r
    order by ${sql.join(by, sql`, `)} limit ${limit} offset ${offset}`;
}

function direction(o: PageOrder): Sql {
  return sql.raw(`${o.descending ? 'desc' : 'asc'}${o.nullsLast ? ' nulls last' : ''}`);
}

/**
 * A search of one patient's record sorted by search parameters (`_sort=-date`): the record's ids under the driving
 * reference, filtered and given those keys from the index tables alone (each a lookup by the id), ordered by them; then
 * each row fetched by primary key in that order, deleted ones and those the caller may not see passed over, until the
 * page is full. The keys the resource row holds (last_updated, then id) only break ties, group by group of equal index
 * keys (an incremental sort), so the resource table is read for the page's rows and their ties, not for the whole
 * record: Ada's labs read 386 resource rows for a page of 50 before, and about 50 now.
 */
function pageByIndexKeys(
  scope: AccessScope,
  request: SearchRequest,
  order: readonly PageOrder[],
  fromIndex: number,
  limit: number,
  offset: unknown,
): Sql {
  const type = request.resourceType;
  const filters = request.filters ?? [];
  const at = drivingFilter(request);
  const driver = drivingReference(type, filters[at])!;
  const onIndex = order.slice(0, fromIndex);
  // A filter on _lastUpdated reads the row: it is checked with the row, the others on the ids.
  const readsRow = (filter: Filter): boolean => filter.code === '_lastUpdated';
  const check = (filter: Filter): Sql => sql`(${filterCondition(type, filter, true, scope)}) is true`;
  const idChecks = filters.filter((f, i) => i !== at && !readsRow(f)).map(check);
  const rowChecks = filters.filter((f, i) => i !== at && readsRow(f)).map(check);
  const visible = visibilityCondition(scope, type);
  if (visible) rowChecks.push(sql`(${visible}) is true`);
  const keys = onIndex.map((o, i) => sql`${o.key} as ${sql.id(`k${i}`)}`);
  const by = [
    ...onIndex.map((o, i) => sql`${sql.ref(`p.k${i}`)} ${direction(o)}`),
    ...order.slice(fromIndex).map((o) => sql`${o.key} ${direction(o)}`),
  ];
  // `r` in the ids' subquery is the id and type of each match, which is all the filters and index keys read. The
  // filters are checked in a lateral subquery of their own, one id at a time: a lookup each, never a hash of every
  // index row of the value (every laboratory result of the practice) that a plan for the whole record could choose.
  return sql`select r.id, r.content, r.compartments
    from (select r.id, ${sql.join(keys, sql`, `)}
      from (select distinct d.resource_id as id, d.resource_type from search_reference d
        where d.target_id = ${driver.targetId} and d.code = ${driver.code} and d.resource_type = ${type}
          ${driver.targetType ? sql`and d.target_type = ${driver.targetType}` : sql``}) d
      cross join lateral (select r.id, r.resource_type from (select d.id, d.resource_type) r
        ${idChecks.length ? sql`where ${sql.join(idChecks, sql` and `)}` : sql``} offset 0) r
      order by ${sql.join(
        onIndex.map((o, i) => sql`${sql.ref(`k${i}`)} ${direction(o)}`),
        sql`, `,
      )} offset 0) p
    cross join lateral (select r.id, r.resource_type, r.last_updated, r.content, r.compartments from resource r
      where r.resource_type = ${type} and r.id = p.id and r.deleted = false
        ${rowChecks.length ? sql`and ${sql.join(rowChecks, sql` and `)}` : sql``} offset 0) r
    order by ${sql.join(by, sql`, `)} limit ${limit} offset ${offset}`;
}

/** The order is newest first, ties by id (the default, and `_sort=-_lastUpdated`): the reference index's own order. */
function newestFirst(order: readonly PageOrder[]): boolean {
  if (!order[0]?.fromRow || !order[0].descending) return false;
  const next = order.find((o) => !o.fromRow);
  return !!next?.isId && !next.descending;
}

/**
 * Rows of the reference index taken for a newest-first page beyond the page itself (pageNewestFirst): room for rows the
 * checks pass over (deleted, entered in error, hidden from the caller) before the page needs its fallback.
 */
export const NEWEST_FIRST_SLACK = 16;

/**
 * A page of one patient's record newest first: the rows naming the record come in that order from the reference
 * index (target_id, code, resource_type, last_updated desc, resource_id), each fetched by primary key and checked
 * against the other filters and the caller's access, until the page is full. The inbox of a patient with 2,000
 * messages reads the page's rows, where sorting the record read all 2,000.
 *
 * Whether PostgreSQL walks that index in order is up to the planner, and it does not always: from statistics that
 * multiply the shares of the patient, the code and the type as if they were independent, it expected 5 of a patient's
 * 1,100 messages, and sorted all of them, each fetched and checked, for a page of 10 (40 ms, and more as the inbox
 * grew). So the statement does not leave it a plan that fetches the record: the index rows are taken first, newest
 * first, as many as the page could need (offset + limit + NEWEST_FIRST_SLACK), and only those are fetched and checked.
 * If the checks passed over so many of them that the page is short while the index had more, the page is read again
 * from all the record's rows (rare: a run of deleted or hidden resources), in the same statement; a one-time filter
 * runs one branch or the other.
 *
 * The index rows of one resource are unique per (code, target type, target id) (index-values.ts), so a typed
 * reference names each resource once; an untyped one (a bare id) may match a resource under two target types, and
 * keeps the first of them only.
 */
function pageNewestFirst(scope: AccessScope, request: SearchRequest, limit: number, offset: unknown): Sql {
  const type = request.resourceType;
  const filters = request.filters ?? [];
  const at = drivingFilter(request);
  const driver = drivingReference(type, filters[at])!;
  const checks: Sql[] = [];
  const visible = visibilityCondition(scope, type);
  if (visible) checks.push(sql`(${visible}) is true`);
  filters.forEach((filter, i) => {
    if (i !== at) checks.push(sql`(${filterCondition(type, filter, true, scope)}) is true`);
  });
  const once = driver.targetType
    ? sql``
    : sql`and not exists (select 1 from search_reference e where e.target_id = d.target_id and e.code = d.code
        and e.resource_type = d.resource_type and e.last_updated = d.last_updated and e.resource_id = d.resource_id
        and e.ctid < d.ctid)`;
  const references = sql`select d.resource_id, d.last_updated from search_reference d
    where d.target_id = ${driver.targetId} and d.code = ${driver.code} and d.resource_type = ${type}
      ${driver.targetType ? sql`and d.target_type = ${driver.targetType}` : sql``} ${once}
    order by d.last_updated desc nulls last, d.resource_id`;
  const pageOf = (source: Sql) => sql`select r.id, r.content, r.compartments from ${source} d
    cross join lateral (select r.id, r.content, r.compartments from resource r
      where r.resource_type = ${type} and r.id = d.resource_id and r.deleted = false
        ${checks.length ? sql`and ${sql.join(checks, sql` and `)}` : sql``} offset 0) r
    order by d.last_updated desc nulls last, d.resource_id limit ${limit} offset ${offset}`;
  const window = sql`(${offset}::bigint + ${limit + NEWEST_FIRST_SLACK})`;
  // Whether the page is short while the index had more: decided once, and each branch runs only on its answer.
  return sql`with nw as materialized (${references} limit ${window}),
      np as materialized (${pageOf(sql`nw`)}),
      ng as materialized (select (select count(*) from np) < ${limit} and (select count(*) from nw) >= ${window} as short)
    select * from np where not (select short from ng)
    union all
    select * from (${pageOf(sql`(${references})`)}) nf where (select short from ng)`;
}

/** Every condition in one WHERE over the resource table: the planner picks the index to start from. */
function flatSource(scope: AccessScope, request: SearchRequest): Sql {
  const type = request.resourceType;
  const visible = visibilityCondition(scope, type);
  const where: Sql[] = [sql`r.resource_type = ${type}`, sql`r.deleted = false`];
  if (visible) where.push(visible);
  for (const filter of request.filters ?? []) where.push(filterCondition(type, filter, false, scope));
  return sql`resource r where ${sql.join(where, sql` and `)}`;
}

/** The rows naming the driving filter's resource, each fetched by key and checked against the other filters and `extra`. */
function drivenSource(scope: AccessScope, type: string, filters: readonly Filter[], at: number, extra: readonly Sql[]): Sql {
  const driver = drivingReference(type, filters[at])!;
  const checks: Sql[] = [...extra];
  filters.forEach((filter, i) => {
    if (i !== at) checks.push(sql`(${filterCondition(type, filter, true, scope)}) is true`);
  });
  return sql`(select distinct d.resource_id from search_reference d
      where d.target_id = ${driver.targetId} and d.code = ${driver.code} and d.resource_type = ${type}
        ${driver.targetType ? sql`and d.target_type = ${driver.targetType}` : sql``}) d
    cross join lateral (select * from resource r where r.resource_type = ${type} and r.id = d.resource_id and r.deleted = false
      ${checks.length ? sql`and ${sql.join(checks, sql` and `)}` : sql``} offset 0) r`;
}

/**
 * A filter naming one resource by reference (`patient=Patient/X`, or a bare `patient=X`): the search can start from the
 * rows naming it. The same reading of a reference as the filter's own (search-filters.ts): a typed reference matches
 * type and id, anything else the id alone. The id goes into the statement as the filter's slot when it has one
 * (SlottedFilter: a statement compiled for every search of its shape).
 */
export function drivingReference(type: string, filter: Filter): { code: string; targetType?: string; targetId: unknown } | undefined {
  if (filter.operator !== Operator.EQUALS || filter.code.includes('.') || filter.code.includes(':')) return undefined;
  if (searchParametersOf(type)[filter.code]?.type !== 'reference') return undefined;
  const values = splitOr(filter.value).filter((v) => v !== '');
  if (values.length !== 1 || values[0].includes('://')) return undefined;
  const match = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(values[0]);
  const slot = (filter as Partial<SlottedFilter>).slots?.[0];
  const reference = match ? { code: filter.code, targetType: match[1], targetId: match[2] } : { code: filter.code, targetId: values[0] };
  return slot === undefined ? reference : { ...reference, targetId: slot };
}

/** The index of the filter a search of one patient's record starts from (by reference), or -1. */
export function drivingFilter(request: SearchRequest): number {
  return (request.filters ?? []).findIndex((filter) => drivingReference(request.resourceType, filter) !== undefined);
}
