/**
 * The access a caller leaves behind for work done later on their behalf, with no request and no token: a Bulk Data
 * export, run by a job, and a Subscription, whose notifications are matched and sent long after it was written. It
 * keeps the part of the caller's scope that says what they see (everything, or their organisation's records, narrowed
 * to the types their SMART scopes name and, per type, to the resources their SMART v2 query scopes let through), and
 * the work applies it when it runs.
 * Portal callers (patients, family members) keep nothing: their view is shaped per record (reduced views, releases),
 * which stored lines or a notification sent later cannot honour, and bulk access to records is a practice's and its
 * systems' business.
 */
import { type AccessScope, SHARED_TYPES, unrestrictedScope } from './access-scope';
import { staffScope } from './portal-scope';
import type { ResourceFilter } from './resource-filter';

/** The access an export keeps from its requester, and a Subscription from its writer. */
export interface KeptAccess {
  readonly unrestricted: boolean;
  /** Staff or a backend service of this organisation: its patients' records. */
  readonly organizationId: string | null;
  /** Only these types (a SMART token's scopes); null: every type the rest allows. */
  readonly allowedTypes: readonly string[] | null;
  /**
   * Per type, the filters one of which a resource must pass (SMART v2 scopes with query parameters, as every search
   * of the requester applies them: resource-filter.ts); null or a type not named: not filtered.
   */
  readonly resourceFilters: Readonly<Record<string, readonly ResourceFilter[]>> | null;
}

/** The access a caller with this scope leaves behind, or undefined when it cannot be kept (a portal caller's). */
export function keptAccessOf(scope: AccessScope): KeptAccess | undefined {
  if (scope.releasedOnly || scope.portalRules || scope.patients.size > 0 || !scope.presentsWhole) return undefined;
  return {
    unrestricted: scope.unrestricted,
    organizationId: scope.unrestricted ? null : (scope.organizationId ?? null),
    allowedTypes: scope.allowedTypes && !scope.unrestricted ? [...scope.allowedTypes].sort() : null,
    resourceFilters: scope.resourceFilters?.size && !scope.unrestricted ? sortedFilters(scope.resourceFilters) : null,
  };
}

/** The filters as a plain object in a stable order (stored as JSON, compared by canonical()). */
function sortedFilters(filters: ReadonlyMap<string, readonly ResourceFilter[]>): Record<string, readonly ResourceFilter[]> {
  const out: Record<string, readonly ResourceFilter[]> = {};
  for (const type of [...filters.keys()].sort()) {
    const alternatives = (filters.get(type) ?? []).map((filter) => ({
      ...(filter.patientId !== undefined ? { patientId: filter.patientId } : {}),
      query: filter.query.map((parameter) => ({
        name: parameter.name,
        values: parameter.values.map((value) => ({
          ...(value.system !== undefined ? { system: value.system } : {}),
          ...(value.code !== undefined ? { code: value.code } : {}),
        })),
      })),
    }));
    out[type] = alternatives.sort((a, b) => canonical(a).localeCompare(canonical(b)));
  }
  return out;
}

/** The scope the kept access reads with (an export's job, a Subscription's matching and delivery). */
export function keptAccessScope(access: KeptAccess, description: string): AccessScope {
  const base = access.unrestricted ? unrestrictedScope(description) : staffScope(access.organizationId ?? undefined, description);
  if (access.unrestricted) return base;
  const filters = access.resourceFilters ? Object.entries(access.resourceFilters) : [];
  const allowed = access.allowedTypes ? new Set(access.allowedTypes) : undefined;
  return {
    ...base,
    // An export's types are chosen within allowedTypes already; the per-type condition checks them again. SMART
    // scopes name the shared types (a Practitioner) a token reads too, as smart-scopes.ts narrows them.
    ...(allowed ? { allowedTypes: allowed, sharedTypes: new Set([...SHARED_TYPES].filter((type) => allowed.has(type))) } : {}),
    ...(filters.length ? { resourceFilters: new Map(filters) } : {}),
  };
}

/** Whether a caller with this scope still holds the access an export kept (it may read that export's files). */
export function holdsKeptAccess(scope: AccessScope, access: KeptAccess): boolean {
  const now = keptAccessOf(scope);
  if (!now) return false;
  if (access.unrestricted) return now.unrestricted;
  return (
    now.unrestricted ||
    (now.organizationId === access.organizationId &&
      coversTypes(now.allowedTypes, access.allowedTypes) &&
      coversFilters(now.resourceFilters, access.resourceFilters))
  );
}

/**
 * Whether a caller filtered by `held` sees all that an export filtered by `needed` holds: each type the caller's
 * scopes filter was filtered in the export by the very same filters (a narrower or other query scope, or one the
 * export was made without, does not read its files).
 */
function coversFilters(
  held: Readonly<Record<string, readonly ResourceFilter[]>> | null,
  needed: Readonly<Record<string, readonly ResourceFilter[]>> | null,
): boolean {
  if (!held) return true;
  return Object.entries(held).every(([type, filters]) => {
    const kept = needed ? Object.entries(needed).find(([neededType]) => neededType === type)?.[1] : undefined;
    return kept !== undefined && canonical(kept) === canonical(filters);
  });
}

/** JSON text with every object's keys in order: the stored filters come back from jsonb with their keys reordered. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

function coversTypes(held: readonly string[] | null, needed: readonly string[] | null): boolean {
  if (!held) return true;
  if (!needed) return false;
  return needed.every((type) => held.includes(type));
}
