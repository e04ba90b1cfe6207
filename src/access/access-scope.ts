import type { Resource } from '@medplum/fhirtypes';
import type { ResourceFilter } from './resource-filter';
import type { AuthorshipIssue } from './write-policy';

/**
 * What one caller may see and change. The repository applies it to every query it runs, so no
 * endpoint can forget it: rows outside the scope are simply never returned.
 */
export interface AccessScope {
  /** A short description for audit logs, e.g. "staff Practitioner/123". */
  readonly description: string;
  /** Everything visible (system jobs, staff of the single-organisation deployment). */
  readonly unrestricted: boolean;
  /**
   * The patients whose records are visible, each with the resource types visible in it (undefined = every type): a
   * resource is visible when every one of its owners (record-owners.ts) shows its type. Ignored when unrestricted.
   */
  readonly patients: ReadonlyMap<string, ReadonlySet<string> | undefined>;
  /**
   * Staff of one organisation: every patient whose managingOrganization is this Organization id (and their
   * records) is visible, as are resources outside any patient's record and files the organisation uploaded there.
   */
  readonly organizationId?: string;
  /**
   * When set, the organisation's records (organizationId) show no resource of another type (a SMART token's scopes,
   * for staff of an organisation: smart-scopes.ts); the records in `patients` and the shared types say their own.
   */
  readonly allowedTypes?: ReadonlySet<string>;
  /**
   * Per resource type, the filters one of which a resource of the type must pass to be visible at all (SMART v2 scopes
   * with query parameters: resource-filter.ts). Types not in the map are not filtered.
   */
  readonly resourceFilters?: ReadonlyMap<string, readonly ResourceFilter[]>;
  /** Resource types visible outside any patient compartment (e.g. Practitioner, Organization). */
  readonly sharedTypes: ReadonlySet<string>;
  /**
   * Whether the caller may create, update or delete this resource (checked after visibility). `compartments`
   * are the patients whose compartment the resource is (or, for a delete, was) in, when the repository knows them.
   * `stored` is true for the version an update or delete would replace, false for the version a write would store.
   */
  canWrite(resource: Resource, compartments?: readonly string[], stored?: boolean): boolean;
  /** Shapes a visible resource before it leaves (e.g. a minimal Patient for billing-only access). */
  present(resource: Resource): Resource;
  /** True when present() always returns the resource as it is: stored JSON can then be served without parsing it. */
  readonly presentsWhole?: boolean;
  /** True when present() returns every resource of this type as it is (a scope whose reduced views are of other types). */
  presentsWholeType?(type: string): boolean;
  /**
   * True when present() returns this one resource as it is, as its type and id alone tell (a portal caller's Patient of a
   * record they hold at full): its stored JSON can then be served without parsing it.
   */
  presentsWholeResource?(type: string, id: string): boolean;
  /**
   * Portal callers (patients, family): unreleased documents and results are invisible (release-visibility.ts).
   * Staff and system see them.
   */
  readonly releasedOnly?: boolean;
  /** Portal callers: what they write follows the portal message rules (src/portal/message-rules.ts). */
  readonly portalRules?: boolean;
  /**
   * Portal callers: what in a write (replacing `stored`, if any) speaks for someone else or sets what the service
   * sets (write-policy.ts); each is a 403. Absent: the caller may write in anyone's name (staff, systems).
   */
  authorshipIssues?(resource: Resource, stored?: Resource): AuthorshipIssue[];
  /**
   * The scope for one search of `type` using these parameters (filters, sort keys, include parameters): patients
   * whose level may not search on a parameter drop out of that search, so a reduced view cannot be probed by
   * filtering or sorting on a field it hides. Absent: every parameter is allowed.
   */
  narrowForSearch?(type: string, params: readonly string[]): AccessScope;
}

/** Types that hold no patient data and are readable by any signed-in caller. */
export const SHARED_TYPES: ReadonlySet<string> = new Set([
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
  'Medication',
  'Questionnaire',
]);

/** The scope of system jobs, the CLI and staff tokens before accounts exist: everything. */
export function unrestrictedScope(description = 'system'): AccessScope {
  return {
    description,
    unrestricted: true,
    patients: new Map(),
    sharedTypes: SHARED_TYPES,
    canWrite: () => true,
    present: (resource) => resource,
    presentsWhole: true,
  };
}
