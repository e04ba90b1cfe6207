/**
 * Who may run a Bulk Data export, and with what access. An export runs later, in a job, with no request and no token:
 * it keeps the part of the requester's scope that says what they see (everything, or their organisation's records,
 * narrowed to the types their SMART scopes name) and applies it when the job runs, as a Subscription keeps its owner's.
 * Portal callers (patients, family members) export nothing: their view is shaped per record (reduced views, releases),
 * which the export's stored lines cannot honour, and bulk access to records is a practice's and its systems' business.
 */
import { type AccessScope, unrestrictedScope } from './access-scope';
import { staffScope } from './portal-scope';

/** The access an export keeps from its requester. */
export interface ExportAccess {
  readonly unrestricted: boolean;
  /** Staff or a backend service of this organisation: its patients' records. */
  readonly organizationId: string | null;
  /** Only these types (a SMART token's scopes); null: every type the rest allows. */
  readonly allowedTypes: readonly string[] | null;
}

/** The access an export by a caller with this scope keeps, or undefined when the caller may not export (portal). */
export function exportAccessOf(scope: AccessScope): ExportAccess | undefined {
  if (scope.releasedOnly || scope.portalRules || scope.patients.size > 0 || !scope.presentsWhole) return undefined;
  return {
    unrestricted: scope.unrestricted,
    organizationId: scope.unrestricted ? null : (scope.organizationId ?? null),
    allowedTypes: scope.allowedTypes && !scope.unrestricted ? [...scope.allowedTypes].sort() : null,
  };
}

/** The scope an export's job reads with. */
export function exportScope(access: ExportAccess, description: string): AccessScope {
  const base = access.unrestricted ? unrestrictedScope(description) : staffScope(access.organizationId ?? undefined, description);
  if (!access.allowedTypes) return base;
  // The export's types are chosen within allowedTypes already; the per-type condition checks them again.
  return { ...base, allowedTypes: new Set(access.allowedTypes) };
}

/** Whether a caller with this scope still holds the access an export kept (it may read that export's files). */
export function holdsExportAccess(scope: AccessScope, access: ExportAccess): boolean {
  const now = exportAccessOf(scope);
  if (!now) return false;
  if (access.unrestricted) return now.unrestricted;
  return now.unrestricted || (now.organizationId === access.organizationId && coversTypes(now.allowedTypes, access.allowedTypes));
}

function coversTypes(held: readonly string[] | null, needed: readonly string[] | null): boolean {
  if (!held) return true;
  if (!needed) return false;
  return needed.every((type) => held.includes(type));
}
