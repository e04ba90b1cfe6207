/**
 * A SMART query scope (`patient/Observation.rs?category=...|laboratory`) judged version by version. The search index
 * holds the values of a resource's current version only, so the SQL of a history or vread leaves the scope's query
 * out (access/visibility.ts: versionVisibilityCondition) and each version read back is judged here on its own content,
 * its scope's parameters indexed as a write would index them: a version that matched the scope is listed even when the resource has changed
 * since, and one that did not is left out even when the current version matches.
 */
import type { Resource } from '@medplum/fhirtypes';
import { type RawBuilder, sql } from 'kysely';
import type { AccessScope } from '../access/access-scope';
import { filtersAdmitVersion } from '../access/resource-filter';
import { versionsJudgedOneByOne } from '../access/visibility';
import { tokenIndexValues } from './search/index-values';

/** A resource_history row as the filter needs it; `ended_content` is what a deletion ended (see endedContent). */
export interface JudgedVersion {
  readonly resource_type: string;
  readonly id: string;
  readonly deleted: boolean;
  readonly content: string;
  readonly owners: string[];
  readonly ended_content?: string | null;
}

/**
 * The column `ended_content` for rows of `alias` (resource_history): for a deletion, the content of the version it
 * ended, by which the deletion is judged (its own content is empty); null for every other version.
 */
export function endedContent(alias = 'h'): RawBuilder<string | null> {
  const h = (column: string) => sql.ref(`${alias}.${column}`);
  return sql<string | null>`case when ${h('deleted')} then (select p.content from resource_history p
    where p.resource_type = ${h('resource_type')} and p.id = ${h('id')} and p.version < ${h('version')} and not p.deleted
    order by p.version desc limit 1) end`;
}

/** Whether any version of `type` (or, undefined, of any type) is judged by versionAdmitted for this caller. */
export function judgesVersions(scope: AccessScope, type: string | undefined): boolean {
  if (type !== undefined) return versionsJudgedOneByOne(scope, type);
  return !scope.unrestricted && !!scope.resourceFilters?.size;
}

/** Whether the caller's SMART query filters let this version through, judged on its own content. */
export function versionAdmitted(scope: AccessScope, row: JudgedVersion): boolean {
  if (!versionsJudgedOneByOne(scope, row.resource_type)) return true;
  const content = row.deleted ? row.ended_content : row.content;
  if (!content) return false;
  const filters = scope.resourceFilters?.get(row.resource_type) ?? [];
  const codes = new Set(filters.flatMap((filter) => filter.query.map((parameter) => parameter.name)));
  const tokens = codes.size ? tokenIndexValues(JSON.parse(content) as Resource, codes) : [];
  return filtersAdmitVersion(scope.resourceFilters, row.resource_type, { id: row.id, owners: row.owners, tokens });
}
