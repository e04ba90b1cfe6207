/**
 * Filters on the resources of one type that a SMART v2 scope with query parameters leaves visible
 * (`patient/Observation.rs?category=...|laboratory`), and the SQL that applies them. The filter is one more condition
 * on every query the visibility condition already guards (read, search, include, history, $everything), so it can
 * only take resources away. The parameters are matched against the token search index of the current version; a
 * version read from history is judged on its own content instead (filtersAdmitVersion), since the index holds the
 * current version's values only.
 */
import { type RawBuilder, sql } from 'kysely';

type Sql = RawBuilder<unknown>;

/** A token as a search writes it: `system|code`, `code` (any system), `|code` (no system) or `system|` (any code). */
export interface TokenValue {
  /** undefined: any system; '': no system. */
  readonly system?: string;
  /** undefined: any code. */
  readonly code?: string;
}

/** One parameter of a scope's query: a token search parameter of the type and the values any of which matches. */
export interface ScopeQueryParameter {
  readonly name: string;
  readonly values: readonly TokenValue[];
}

/**
 * One way for a resource of a filtered type to be visible: it matches every parameter of `query` and, when
 * `patientId` is set, belongs to that patient's record alone (a `patient/` scope speaks of the launch patient only).
 */
export interface ResourceFilter {
  readonly patientId?: string;
  readonly query: readonly ScopeQueryParameter[];
}

/**
 * The condition on `alias` (a row of resource or resource_history of `type`) that keeps the resources one of the
 * filters lets through; undefined when the type is not filtered.
 */
export function resourceFilterCondition(
  filters: ReadonlyMap<string, readonly ResourceFilter[]> | undefined,
  type: string,
  alias: string,
): Sql | undefined {
  const alternatives = filters?.get(type);
  if (!alternatives) return undefined;
  if (!alternatives.length) return sql`false`;
  const parts = alternatives.map((filter) => {
    const conditions = filter.query.map((parameter) => parameterCondition(type, parameter, alias));
    if (filter.patientId !== undefined) conditions.unshift(ownedBy(type, filter.patientId, alias));
    return conditions.length ? sql`(${sql.join(conditions, sql` and `)})` : sql`true`;
  });
  return parts.length === 1 ? parts[0] : sql`(${sql.join(parts, sql` or `)})`;
}

/** The filters for rows of any type at once (alias.resource_type tells them apart); undefined when none is filtered. */
export function resourceFilterConditionAnyType(
  filters: ReadonlyMap<string, readonly ResourceFilter[]> | undefined,
  alias: string,
): Sql | undefined {
  return anyTypeCondition(filters, alias, (filtered) => resourceFilterCondition(filters, filtered, alias));
}

/**
 * The part of the filters of `type` that a row's own columns answer (the launch patient's record), for a row of
 * resource_history: a superset of what the filters let through, which filtersAdmitVersion then narrows version by
 * version. Undefined when the type is not filtered or some filter speaks of every record.
 */
export function resourceFilterRecordCondition(
  filters: ReadonlyMap<string, readonly ResourceFilter[]> | undefined,
  type: string,
  alias: string,
): Sql | undefined {
  const alternatives = filters?.get(type);
  if (!alternatives) return undefined;
  if (!alternatives.length) return sql`false`;
  if (alternatives.some((filter) => filter.patientId === undefined)) return undefined;
  const patients = [...new Set(alternatives.map((filter) => filter.patientId as string))];
  const parts = patients.map((patientId) => ownedBy(type, patientId, alias));
  return parts.length === 1 ? parts[0] : sql`(${sql.join(parts, sql` or `)})`;
}

/** resourceFilterRecordCondition for rows of any type at once (alias.resource_type tells them apart). */
export function resourceFilterRecordConditionAnyType(
  filters: ReadonlyMap<string, readonly ResourceFilter[]> | undefined,
  alias: string,
): Sql | undefined {
  return anyTypeCondition(filters, alias, (filtered) => resourceFilterRecordCondition(filters, filtered, alias));
}

/** A row of an unfiltered type, or of a filtered type meeting its condition (none: every row of that type). */
function anyTypeCondition(
  filters: ReadonlyMap<string, readonly ResourceFilter[]> | undefined,
  alias: string,
  conditionOf: (type: string) => Sql | undefined,
): Sql | undefined {
  if (!filters?.size) return undefined;
  const type = sql.ref(`${alias}.resource_type`);
  const parts: Sql[] = [sql`${type} <> all(${[...filters.keys()]}::text[])`];
  for (const filtered of filters.keys()) {
    const condition = conditionOf(filtered);
    parts.push(condition ? sql`(${type} = ${filtered} and ${condition})` : sql`${type} = ${filtered}`);
  }
  return sql`(${sql.join(parts, sql` or `)})`;
}

/** A token index row of one version (code, system, value), as the writer indexes it (search/index-values.ts). */
export interface VersionToken {
  readonly code: string;
  readonly system: string | null;
  readonly value: string | null;
}

/** One version of a resource as the filters judge it: its id, the records it was in, and its own token values. */
export interface FilteredVersion {
  readonly id: string;
  readonly owners: readonly string[];
  readonly tokens: readonly VersionToken[];
}

/**
 * Whether the filters of `type` let this version through: what resourceFilterCondition decides for the current row,
 * decided on the version's own owners and token values. True when the type is not filtered.
 */
export function filtersAdmitVersion(
  filters: ReadonlyMap<string, readonly ResourceFilter[]> | undefined,
  type: string,
  version: FilteredVersion,
): boolean {
  const alternatives = filters?.get(type);
  if (!alternatives) return true;
  return alternatives.some(
    (filter) =>
      (filter.patientId === undefined ||
        (type === 'Patient' ? version.id === filter.patientId : version.owners.length === 1 && version.owners[0] === filter.patientId)) &&
      filter.query.every((parameter) =>
        version.tokens.some((token) => token.code === parameter.name && parameter.values.some((v) => tokenMatches(token, v))),
      ),
  );
}

/** The JavaScript twin of parameterCondition's test of one index row against one value. */
function tokenMatches(token: VersionToken, value: TokenValue): boolean {
  if (value.system === undefined) return token.value === (value.code ?? '');
  if (value.system === '') return token.system === null && token.value === (value.code ?? '');
  if (value.code === undefined) return token.system === value.system;
  return token.system === value.system && token.value === value.code;
}

/** The resource belongs to this patient's record alone (for a Patient: it is that patient). */
function ownedBy(type: string, patientId: string, alias: string): Sql {
  if (type === 'Patient') return sql`${sql.ref(`${alias}.id`)} = ${patientId}`;
  return sql`${sql.ref(`${alias}.owners`)} = ${[patientId]}::text[]`;
}

/** The resource has an index row of this token parameter with one of its values. */
function parameterCondition(type: string, parameter: ScopeQueryParameter, alias: string): Sql {
  const values = parameter.values.map((v) => {
    if (v.system === undefined) return sql`t.value = ${v.code ?? ''}`;
    if (v.system === '') return sql`(t.system is null and t.value = ${v.code ?? ''})`;
    if (v.code === undefined) return sql`t.system = ${v.system}`;
    return sql`(t.system = ${v.system} and t.value = ${v.code})`;
  });
  return sql`exists (select 1 from search_token t where t.resource_id = ${sql.ref(`${alias}.id`)} and t.resource_type = ${type}
    and t.code = ${parameter.name} and (${sql.join(values, sql` or `)}))`;
}
