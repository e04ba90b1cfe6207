import { RawBuilder, sql } from 'kysely';
import type { AccessScope } from './access-scope';
import { unreleasedClauses } from './release-visibility';

/** The patients whose compartment may show resources of this type to the caller. */
export function patientsSeeingType(scope: AccessScope, type: string): string[] {
  const ids: string[] = [];
  for (const [patientId, types] of scope.patients) {
    if (!types || types.has(type)) ids.push(patientId);
  }
  return ids;
}

/** Whether a resource type in a patient's compartment is visible (the patient themself already is). */
export function typeVisibleFor(scope: AccessScope, patientId: string, type: string): boolean {
  if (scope.unrestricted || scope.organizationId || scope.sharedTypes.has(type)) return true;
  return patientsSeeingType(scope, type).includes(patientId);
}

/**
 * The SQL condition on `r` (the resource table) that keeps only rows the caller may see, or
 * undefined when nothing needs filtering. Every read, search, include and history query runs
 * through it, so a resource the caller may not see is simply never found (404, absent from search).
 */
export function visibilityCondition(scope: AccessScope, type: string): RawBuilder<unknown> | undefined {
  const inScope = scopeCondition(scope, type);
  const hidden = scope.releasedOnly && !scope.unrestricted ? unreleasedClauses(type) : [];
  if (!hidden.length) return inScope;
  const parts = [...(inScope ? [inScope] : []), ...hidden.map((clause) => sql`not ${clause}`)];
  return sql`(${sql.join(parts, sql` and `)})`;
}

function scopeCondition(scope: AccessScope, type: string): RawBuilder<unknown> | undefined {
  if (scope.unrestricted || scope.sharedTypes.has(type)) return undefined;
  const parts: RawBuilder<unknown>[] = [];
  const allowed = patientsSeeingType(scope, type);
  if (allowed.length) {
    const list = sql`${allowed}::text[]`;
    parts.push(type === 'Patient' ? sql`r.id = any(${list})` : sql`r.compartments && ${list}`);
  }
  if (scope.organizationId) {
    // One index-only probe per patient (migration 0006's partial index). coalesce() keeps the planner off the
    // (target_id, ...) index, which would walk every patient the organisation manages, however many thousands.
    const managed = sql`o.resource_type = 'Patient' and o.code = 'organization' and o.target_type = 'Organization' and coalesce(o.target_id, '') = ${scope.organizationId}`;
    if (type === 'Patient') {
      parts.push(sql`exists (select 1 from search_reference o where ${managed} and o.resource_id = r.id)`);
    } else {
      parts.push(sql`r.compartments = '{}'`);
      parts.push(sql`exists (select 1 from search_reference o where ${managed} and o.resource_id = any(r.compartments))`);
    }
  }
  if (!parts.length) return sql`false`;
  return parts.length === 1 ? parts[0] : sql`(${sql.join(parts, sql` or `)})`;
}
