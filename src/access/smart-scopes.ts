/**
 * SMART App Launch scopes (v2 `patient/Observation.rs`, `user/*.cruds`, `system/*.rs`; v1 `patient/*.read`) and how a
 * token's scopes narrow the caller's AccessScope. Scopes only ever take away: what a token shows is what the account
 * may see today under the age rules and grants, limited to the types (and, for `patient/` scopes, the one patient) the
 * token names.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { AccessScope } from './access-scope';

/** Whose data a resource scope speaks of: the launch patient's, the signed-in user's, or a backend system's. */
export type SmartContext = 'patient' | 'user' | 'system';

/** One resource scope, as parsed. */
export interface SmartResourceScope {
  readonly context: SmartContext;
  /** A resource type, or '*' for every type. */
  readonly type: string;
  /** Read (r) or search (s) granted. */
  readonly read: boolean;
  /** Create, update or delete (c, u, d) granted. */
  readonly write: boolean;
  /** The scope as it was written. */
  readonly text: string;
}

/** The scopes that are not resource scopes but that this server knows. */
export const SMART_OTHER_SCOPES: readonly string[] = [
  'openid',
  'fhirUser',
  'profile',
  'offline_access',
  'online_access',
  'launch',
  'launch/patient',
];

/** v2 permissions: any of c, r, u, d, s, in that order, at least one. */
const V2_PERMISSIONS = /^c?r?u?d?s?$/;
const SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]{1,5})$/;

/** Parses one resource scope; undefined when the text is not one (or uses v2 query parameters, not supported). */
export function parseResourceScope(text: string): SmartResourceScope | undefined {
  const match = SCOPE.exec(text);
  if (!match) return undefined;
  const [, context, type, permissions] = match;
  let read: boolean;
  let write: boolean;
  if (permissions === 'read') [read, write] = [true, false];
  else if (permissions === 'write') [read, write] = [false, true];
  else if (permissions === '*') [read, write] = [true, true];
  else if (permissions && V2_PERMISSIONS.test(permissions)) {
    read = /[rs]/.test(permissions);
    write = /[cud]/.test(permissions);
  } else return undefined;
  return { context: context as SmartContext, type, read, write, text };
}

/** The resource scopes among a space-separated scope string (others are left out). */
export function resourceScopesIn(scope: string | undefined): SmartResourceScope[] {
  return (scope ?? '').split(' ').flatMap((text) => parseResourceScope(text) ?? []);
}

/** The scopes of a request that this server can grant at all: known resource scopes and the SMART/OpenID ones. */
export function knownScopesIn(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(' ').filter((text) => text && (SMART_OTHER_SCOPES.includes(text) || parseResourceScope(text))))];
}

/** Types granted in one context, for read or write: 'all' for a wildcard, else the named types. */
function typesGranted(scopes: readonly SmartResourceScope[], context: SmartContext, want: 'read' | 'write'): 'all' | ReadonlySet<string> {
  const types = new Set<string>();
  for (const s of scopes) {
    if (s.context !== context || !s[want]) continue;
    if (s.type === '*') return 'all';
    types.add(s.type);
  }
  return types;
}

function union(a: 'all' | ReadonlySet<string>, b: 'all' | ReadonlySet<string>): 'all' | ReadonlySet<string> {
  if (a === 'all' || b === 'all') return 'all';
  return new Set([...a, ...b]);
}

/** `held` (undefined = every type) limited to `granted`; an empty set when nothing is left. */
function intersect(held: ReadonlySet<string> | undefined, granted: 'all' | ReadonlySet<string>): ReadonlySet<string> | undefined {
  if (granted === 'all') return held;
  if (!held) return granted;
  return new Set([...held].filter((t) => granted.has(t)));
}

/** What a token grants: its resource scopes and, for `patient/` scopes, the patient it was launched for. */
export interface SmartGrant {
  readonly scopes: readonly SmartResourceScope[];
  /** The launch context's patient id; `patient/` scopes give nothing without one. */
  readonly patientId?: string;
}

/**
 * The part of `base` a token's scopes allow: per patient the caller holds, the types `user/` scopes name (and, for the
 * launch patient, `patient/` scopes), never more than `base` shows; staff of an organisation and backend systems see
 * the types their `user/` or `system/` scopes name. Writes need a c, u or d permission on the type (the three are not
 * told apart), and whatever `base` allows besides. Reads and searches are not told apart either: r or s gives both.
 */
export function narrowBySmartScopes(base: AccessScope, grant: SmartGrant): AccessScope {
  const readFor = (patientId?: string) =>
    union(
      union(typesGranted(grant.scopes, 'user', 'read'), typesGranted(grant.scopes, 'system', 'read')),
      patientId !== undefined && patientId === grant.patientId ? typesGranted(grant.scopes, 'patient', 'read') : new Set(),
    );
  const writeFor = (patientIds: readonly string[]) => {
    const anyone = union(typesGranted(grant.scopes, 'user', 'write'), typesGranted(grant.scopes, 'system', 'write'));
    const launch =
      patientIds.length > 0 && patientIds.every((id) => id === grant.patientId)
        ? typesGranted(grant.scopes, 'patient', 'write')
        : new Set<string>();
    return union(anyone, launch);
  };
  const narrow = (scope: AccessScope): AccessScope => {
    const patients = new Map<string, ReadonlySet<string> | undefined>();
    for (const [patientId, held] of scope.patients) {
      const types = intersect(held, readFor(patientId));
      if (!types || types.size) patients.set(patientId, types);
    }
    // Shared types (a Practitioner) follow user/ and system/ scopes, and patient/ scopes while the launch patient is held.
    const anywhere = union(
      readFor(),
      grant.patientId !== undefined && patients.has(grant.patientId) ? typesGranted(grant.scopes, 'patient', 'read') : new Set(),
    );
    // The patients map limits what portal callers see per record; staff see their organisation's records by type.
    const allowedTypes = scope.organizationId ? intersect(scope.allowedTypes, readFor()) : scope.allowedTypes;
    return {
      ...scope,
      description: `${scope.description} (SMART scopes)`,
      unrestricted: false,
      patients,
      sharedTypes: new Set([...scope.sharedTypes].filter((t) => anywhere === 'all' || anywhere.has(t))),
      ...(allowedTypes ? { allowedTypes } : {}),
      canWrite: (resource: Resource, compartments?: readonly string[], stored?: boolean) => {
        const granted = writeFor(compartments ?? []);
        return (granted === 'all' || granted.has(resource.resourceType)) && scope.canWrite(resource, compartments, stored);
      },
      narrowForSearch: (type: string, params: readonly string[]) =>
        narrow(scope.narrowForSearch ? scope.narrowForSearch(type, params) : scope),
    };
  };
  if (base.unrestricted) {
    // An unrestricted caller (the operator) is never given a SMART token; should one be, it sees nothing.
    return { ...base, unrestricted: false, patients: new Map(), sharedTypes: new Set(), allowedTypes: new Set(), canWrite: () => false };
  }
  return narrow(base);
}
