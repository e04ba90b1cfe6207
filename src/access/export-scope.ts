/**
 * Who may run a Bulk Data export, and with what access. An export runs later, in a job, with no request and no token:
 * it keeps the part of the requester's scope that says what they see (everything, or their organisation's records,
 * narrowed to the types their SMART scopes name and, per type, to the resources their SMART v2 query scopes let through)
 * and applies it when the job runs, as a Subscription keeps its owner's.
 * Portal callers (patients, family members) export nothing: their view is shaped per record (reduced views, releases),
 * which the export's stored lines cannot honour, and bulk access to records is a practice's and its systems' business.
 */
import { type AccessScope, unrestrictedScope } from './access-scope';
import { staffScope } from './portal-scope';
import type { ResourceFilter } from './resource-filter';

/** The access an export keeps from its requester. */
export interface ExportAccess {
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

/** The access an export by a caller with this scope keeps, or undefined when the caller may not export (portal). */
export function exportAccessOf(scope: AccessScope): ExportAccess | undefined {
  if (scope.releasedOnly || scope.portalRules || scope.patients.size > 0 || !scope.presentsWhole) return undefined;
  return {
    unrestricted: scope.unrestricted,
    organizationId: scope.unrestricted ? null : (scope.organizationId ?? null),
    allowedTypes: scope.allowedTypes && !scope.unrestricted ? [...scope.allowedTypes].sort() : null,
    resourceFilters: scope.resourceFilters?.size && !scope.unrestricted ? sortedFilters(scope.resourceFilters) : null,
  };
}

/** The filters as a plain object in a stable order (stored with the export as JSON, compared by canonical()). */
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

/** The scope an export's job reads with. */
export function exportScope(access: ExportAccess, description: string): AccessScope {
  const base = access.unrestricted ? unrestrictedScope(description) : staffScope(access.organizationId ?? undefined, description);
  if (access.unrestricted) return base;
  const filters = access.resourceFilters ? Object.entries(access.resourceFilters) : [];
  return {
    ...base,
    // The export's types are chosen within allowedTypes already; the per-type condition checks them again.
    ...(access.allowedTypes ? { allowedTypes: new Set(access.allowedTypes) } : {}),
    ...(filters.length ? { resourceFilters: new Map(filters) } : {}),
  };
}

/** Whether a caller with this scope still holds the access an export kept (it may read that export's files). */
export function holdsExportAccess(scope: AccessScope, access: ExportAccess): boolean {
  const now = exportAccessOf(scope);
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
