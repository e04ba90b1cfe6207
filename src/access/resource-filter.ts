/**
 * Filters on the resources of one type that a SMART v2 scope with query parameters leaves visible
 * (`patient/Observation.rs?category=...|laboratory`), and the SQL that applies them. The filter is one more condition
 * on every query the visibility condition already guards (read, search, include, history, $everything), so it can
 * only take resources away. The parameters are matched against the token search index of the current version.
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
  if (!filters?.size) return undefined;
  const type = sql.ref(`${alias}.resource_type`);
  const parts: Sql[] = [sql`${type} <> all(${[...filters.keys()]}::text[])`];
  for (const filtered of filters.keys()) {
    parts.push(sql`(${type} = ${filtered} and ${resourceFilterCondition(filters, filtered, alias)})`);
  }
  return sql`(${sql.join(parts, sql` or `)})`;
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
