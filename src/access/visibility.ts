import { RawBuilder, sql } from 'kysely';
import type { AccessScope } from './access-scope';
import { uploaderOwner } from './record-owners';
import {
  resourceFilterCondition,
  resourceFilterConditionAnyType,
  resourceFilterRecordCondition,
  resourceFilterRecordConditionAnyType,
} from './resource-filter';
import { unreleasedClauses, unreleasedConditionAnyType } from './release-visibility';

type Sql = RawBuilder<unknown>;

/** The patients whose compartment may show resources of this type to the caller. */
export function patientsSeeingType(scope: AccessScope, type: string): string[] {
  const ids: string[] = [];
  for (const [patientId, types] of scope.patients) {
    if (!types || types.has(type)) ids.push(patientId);
  }
  return ids;
}

/**
 * The SQL condition on `alias` (a row of the resource table) that keeps only rows the caller may see, or undefined
 * when nothing needs filtering. Every read, search, include and history query runs through it, so a resource the
 * caller may not see is simply never found (404, absent from search). A resource is visible when the caller may see
 * its type in the record of every one of its owners (record-owners.ts), and, for patients and family, it is released.
 */
export function visibilityCondition(scope: AccessScope, type: string, alias = 'r'): Sql | undefined {
  const inScope = scopeCondition(scope, type, alias);
  const hidden = scope.releasedOnly && !scope.unrestricted ? unreleasedClauses(type, alias) : [];
  if (!hidden.length) return inScope;
  const parts = [...(inScope ? [inScope] : []), ...hidden.map((clause) => sql`not ${clause}`)];
  return sql`(${sql.join(parts, sql` and `)})`;
}

/**
 * The condition on `alias` (a row of resource_history of `type`) that keeps the versions whose own record the caller
 * may see: a resource moved from one patient's record to another's shows each version only to those who may see
 * the record it was in. (Whether a version was released is read from its content: see unreleasedVersion.) A SMART
 * query scope's parameters are not part of it: the search index holds the current version's values only, so each
 * version is judged on its own content (fhir/version-filter.ts) where versionsJudgedOneByOne says so.
 */
export function versionVisibilityCondition(scope: AccessScope, type: string, alias = 'h'): Sql | undefined {
  return scopeCondition(scope, type, alias, true);
}

/**
 * The condition on the current row (`alias`) of a resource whose versions are listed (history, vread):
 * visibilityCondition without a SMART query scope's parameters, which each version answers for itself.
 */
export function historyCurrentCondition(scope: AccessScope, type: string, alias = 'r'): Sql | undefined {
  const inScope = scopeCondition(scope, type, alias, true);
  const hidden = scope.releasedOnly && !scope.unrestricted ? unreleasedClauses(type, alias) : [];
  if (!hidden.length) return inScope;
  const parts = [...(inScope ? [inScope] : []), ...hidden.map((clause) => sql`not ${clause}`)];
  return sql`(${sql.join(parts, sql` and `)})`;
}

/** Whether the versions of `type` must each pass the caller's SMART query filters on their own content. */
export function versionsJudgedOneByOne(scope: AccessScope, type: string): boolean {
  return !scope.unrestricted && !!scope.resourceFilters?.has(type);
}

/**
 * The visibility condition for rows of any type at once (one query over a whole record, as $everything runs), or
 * undefined when nothing needs filtering.
 */
export function visibilityConditionAnyType(scope: AccessScope, alias = 'r', options: { versions?: boolean } = {}): Sql | undefined {
  if (scope.unrestricted) return undefined;
  const inScope = recordsConditionAnyType(scope, alias);
  // Listing versions (options.versions): a SMART query scope's parameters are judged per version, as in
  // versionVisibilityCondition.
  const filter = options.versions
    ? resourceFilterRecordConditionAnyType(scope.resourceFilters, alias)
    : resourceFilterConditionAnyType(scope.resourceFilters, alias);
  return filter ? sql`(${inScope} and ${filter})` : inScope;
}

function recordsConditionAnyType(scope: AccessScope, alias: string): Sql {
  const owners = sql.ref(`${alias}.owners`);
  const type = sql.ref(`${alias}.resource_type`);
  const parts: Sql[] = [];
  if (scope.sharedTypes.size) parts.push(sql`${type} = any(${[...scope.sharedTypes]}::text[])`);
  // Per set of types a level shows, the patients held at that level; each owner must be held at a level showing the type.
  const byTypes = new Map<ReadonlySet<string> | undefined, string[]>();
  for (const [patientId, types] of scope.patients) byTypes.set(types, [...(byTypes.get(types) ?? []), patientId]);
  if (byTypes.size) {
    const held = [...byTypes].map(([types, ids]) =>
      types ? sql`(p.id = any(${ids}::text[]) and ${type} = any(${[...types]}::text[]))` : sql`p.id = any(${ids}::text[])`,
    );
    parts.push(
      sql`(cardinality(${owners}) > 0 and not exists (select 1 from unnest(${owners}) as p(id) where not (${sql.join(held, sql` or `)})))`,
    );
  }
  if (scope.organizationId) {
    const staff = staffOwnersCondition(scope.organizationId, alias);
    parts.push(scope.allowedTypes ? sql`(${type} = any(${[...scope.allowedTypes]}::text[]) and ${staff})` : staff);
  }
  const inScope = parts.length ? sql`(${sql.join(parts, sql` or `)})` : sql`false`;
  return scope.releasedOnly ? sql`(${inScope} and not ${unreleasedConditionAnyType(alias)})` : inScope;
}

function scopeCondition(scope: AccessScope, type: string, alias: string, versions = false): Sql | undefined {
  const records = recordsCondition(scope, type, alias);
  const filter = scope.unrestricted
    ? undefined
    : versions
      ? resourceFilterRecordCondition(scope.resourceFilters, type, alias)
      : resourceFilterCondition(scope.resourceFilters, type, alias);
  if (!filter) return records;
  return records ? sql`(${records} and ${filter})` : filter;
}

/** The records (and shared types) a resource of `type` may be in for the caller to see it. */
function recordsCondition(scope: AccessScope, type: string, alias: string): Sql | undefined {
  if (scope.unrestricted || scope.sharedTypes.has(type)) return undefined;
  const parts: Sql[] = [];
  const allowed = patientsSeeingType(scope, type);
  if (allowed.length) {
    const list = sql`${allowed}::text[]`;
    const owners = sql.ref(`${alias}.owners`);
    // && finds candidates through the GIN index; <@ keeps those whose every owner is one the caller sees.
    parts.push(type === 'Patient' ? sql`${sql.ref(`${alias}.id`)} = any(${list})` : sql`(${owners} && ${list} and ${owners} <@ ${list})`);
  }
  if (scope.organizationId && (!scope.allowedTypes || scope.allowedTypes.has(type))) {
    parts.push(
      // "is true": a check of each Patient row at hand (one probe of migration 0006's index), never a join the planner
      // could start from: rated at one row, the organisation's every patient was walked to find a name and birth date.
      // "offset 0" keeps it a probe: without it the check became a hash of every patient the organisation manages.
      type === 'Patient'
        ? sql`(exists (select 1 from search_reference o where ${managedBy(scope.organizationId)} and o.resource_id = ${sql.ref(`${alias}.id`)} offset 0)) is true`
        : staffOwnersCondition(scope.organizationId, alias),
    );
  }
  if (!parts.length) return sql`false`;
  return parts.length === 1 ? parts[0] : sql`(${sql.join(parts, sql` or `)})`;
}

/** `o` (a search_reference row) says a Patient is managed by the organisation. */
function managedBy(organizationId: string): Sql {
  // One index-only probe per patient (migration 0006's partial index). coalesce() keeps the planner off the
  // (target_id, ...) index, which would walk every patient the organisation manages, however many thousands.
  return sql`o.resource_type = 'Patient' and o.code = 'organization' and o.target_type = 'Organization' and coalesce(o.target_id, '') = ${organizationId}`;
}

/**
 * Staff of an organisation: a resource outside every record, a file their organisation uploaded outside every
 * record, or one whose every owner is a patient their organisation manages (a patient has one managing organisation,
 * so counting the owners that are managed counts each at most once).
 */
function staffOwnersCondition(organizationId: string, alias: string): Sql {
  const owners = sql.ref(`${alias}.owners`);
  return sql`(${owners} = '{}' or ${owners} = array[${uploaderOwner(organizationId)}]::text[]
    or (select count(*) from search_reference o where ${managedBy(organizationId)} and o.resource_id = any(${owners})) = cardinality(${owners}))`;
}
