import { RawBuilder, sql } from 'kysely';
import type { AccessScope } from './access-scope';

/** The patients whose compartment may show resources of this type to the caller. */
export function patientsSeeingType(scope: AccessScope, type: string): string[] {
  const ids: string[] = [];
  for (const [patientId, types] of scope.patients) {
    if (!types || types.has(type)) ids.push(patientId);
  }
  return ids;
}

/** Whether one stored row is visible to the caller: the check behind read, vread and history. */
export function isVisible(scope: AccessScope, type: string, id: string, compartments: readonly string[]): boolean {
  if (scope.unrestricted || scope.sharedTypes.has(type)) return true;
  const allowed = patientsSeeingType(scope, type);
  if (type === 'Patient') return allowed.includes(id);
  return compartments.some((c) => allowed.includes(c));
}

/**
 * The SQL condition on `r` (the resource table) that keeps only rows the caller may see, or
 * undefined when nothing needs filtering. Every search and include runs through it.
 */
export function visibilityCondition(scope: AccessScope, type: string): RawBuilder<unknown> | undefined {
  if (scope.unrestricted || scope.sharedTypes.has(type)) return undefined;
  const allowed = patientsSeeingType(scope, type);
  if (!allowed.length) return sql`false`;
  const list = sql`${allowed}::text[]`;
  return type === 'Patient' ? sql`r.id = any(${list})` : sql`r.compartments && ${list}`;
}
