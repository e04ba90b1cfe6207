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
import { filterCondition, splitOr } from './search-filters';

type Sql = RawBuilder<unknown>;

/** The FROM ... WHERE of the rows of `r` that match the request and the caller may see. */
export function matchSource(scope: AccessScope, request: SearchRequest): Sql {
  const type = request.resourceType;
  const filters = request.filters ?? [];
  const visible = visibilityCondition(scope, type);
  const at = filters.findIndex((filter) => drivingReference(type, filter) !== undefined);
  if (at < 0) {
    const where: Sql[] = [sql`r.resource_type = ${type}`, sql`r.deleted = false`];
    if (visible) where.push(visible);
    for (const filter of filters) where.push(filterCondition(type, filter));
    return sql`resource r where ${sql.join(where, sql` and `)}`;
  }
  const driver = drivingReference(type, filters[at])!;
  // Each condition is evaluated on the one row at hand: "is true" keeps the planner from turning an exists into a
  // join over the whole index table, and "offset 0" keeps the row's lookup a lookup by primary key.
  const checks: Sql[] = [];
  if (visible) checks.push(sql`(${visible}) is true`);
  filters.forEach((filter, i) => {
    if (i !== at) checks.push(sql`(${filterCondition(type, filter, true)}) is true`);
  });
  return sql`(select distinct d.resource_id from search_reference d
      where d.target_id = ${driver.targetId} and d.code = ${driver.code} and d.resource_type = ${type} and d.target_type = ${driver.targetType}) d
    cross join lateral (select * from resource r where r.resource_type = ${type} and r.id = d.resource_id and r.deleted = false
      ${checks.length ? sql`and ${sql.join(checks, sql` and `)}` : sql``} offset 0) r`;
}

/** A filter naming one resource by reference (`patient=Patient/X`): the search can start from the rows naming it. */
function drivingReference(type: string, filter: Filter): { code: string; targetType: string; targetId: string } | undefined {
  if (filter.operator !== Operator.EQUALS || filter.code.includes('.') || filter.code.includes(':')) return undefined;
  if (searchParametersOf(type)[filter.code]?.type !== 'reference') return undefined;
  const values = splitOr(filter.value).filter((v) => v !== '');
  if (values.length !== 1 || values[0].includes('://')) return undefined;
  // The same reading of a reference as the filter's own (search-filters.ts).
  const match = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(values[0]);
  return match ? { code: filter.code, targetType: match[1], targetId: match[2] } : undefined;
}
