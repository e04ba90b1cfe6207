/**
 * SMART App Launch scopes (v2 `patient/Observation.rs`, `user/*.cruds`, `system/*.rs`; v1 `patient/*.read`) and how a
 * token's scopes narrow the caller's AccessScope. Scopes only ever take away: what a token shows is what the account
 * may see today under the age rules and grants, limited to the types (and, for `patient/` scopes, the one patient) the
 * token names.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { AccessScope } from './access-scope';
import type { ResourceFilter, ScopeQueryParameter, TokenValue } from './resource-filter';

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
  /**
   * v2 query parameters (`patient/Observation.rs?category=...|laboratory`): resources of the type are visible only
   * when they match every parameter (each one by any of its values). Absent: every resource of the type.
   */
  readonly query?: readonly ScopeQueryParameter[];
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
/** Limits of a scope's query: its length, parameters and values (a scope is a line of a consent page, not a search). */
const QUERY_LIMITS = Object.freeze({ chars: 512, parameters: 4, values: 10 });
/** A search parameter's name, without modifiers or chains (`category`, `code`, `status`). */
const PARAMETER_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * Parses one resource scope; undefined when the text is not one. A v2 scope may carry query parameters naming one
 * resource type (`patient/Observation.rs?category=...`); they are read here as tokens, and which parameters a server
 * grants is the authorization server's decision (smart-grantable-scopes.ts).
 */
export function parseResourceScope(text: string): SmartResourceScope | undefined {
  const mark = text.indexOf('?');
  const base = mark < 0 ? text : text.slice(0, mark);
  const match = SCOPE.exec(base);
  if (!match) return undefined;
  const [, context, type, permissions] = match;
  let query: ScopeQueryParameter[] | undefined;
  if (mark >= 0) {
    // Only v2 scopes of one named type may carry a query.
    if (type === '*' || !V2_PERMISSIONS.test(permissions)) return undefined;
    query = parseScopeQuery(text.slice(mark + 1));
    if (!query) return undefined;
  }
  let read: boolean;
  let write: boolean;
  if (permissions === 'read') [read, write] = [true, false];
  else if (permissions === 'write') [read, write] = [false, true];
  else if (permissions === '*') [read, write] = [true, true];
  else if (permissions && V2_PERMISSIONS.test(permissions)) {
    read = /[rs]/.test(permissions);
    write = /[cud]/.test(permissions);
  } else return undefined;
  return { context: context as SmartContext, type, read, write, text, ...(query ? { query } : {}) };
}

/** The parameters of a scope's query (`name=token,token&name=token`); undefined when it is not one this server reads. */
function parseScopeQuery(text: string): ScopeQueryParameter[] | undefined {
  if (!text || text.length > QUERY_LIMITS.chars) return undefined;
  const out: ScopeQueryParameter[] = [];
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(text);
  } catch {
    return undefined;
  }
  for (const [name, value] of params) {
    if (!PARAMETER_NAME.test(name) || !value || out.length >= QUERY_LIMITS.parameters) return undefined;
    const values = value.split(',').map(parseToken);
    if (values.length > QUERY_LIMITS.values || values.some((v) => v === undefined)) return undefined;
    out.push({ name, values: values as TokenValue[] });
  }
  return out.length ? out : undefined;
}

/** One token value of a query (`system|code`, `code`, `|code`, `system|`); undefined when empty. */
function parseToken(text: string): TokenValue | undefined {
  const bar = text.indexOf('|');
  if (bar < 0) return text ? { code: text } : undefined;
  const [system, code] = [text.slice(0, bar), text.slice(bar + 1)];
  if (!system && !code) return undefined;
  return { system, ...(code ? { code } : {}) };
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
    // A scope with a query writes nothing: only what it lets be read is filtered (resourceFiltersOf).
    if (s.context !== context || !s[want] || (want === 'write' && s.query)) continue;
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
 * the types their `user/` or `system/` scopes name across the organisation, and the types their `patient/` scopes name
 * in the launch patient's record (the authenticator checks the organisation still manages that patient). Writes need
 * a c, u or d permission on the type (the three are not told apart), and whatever `base` allows besides. Reads and
 * searches are not told apart either: r or s gives both. Scopes with query parameters show only the resources of
 * their type that match (resourceFiltersOf).
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
  const launchTypes = grant.patientId !== undefined ? typesGranted(grant.scopes, 'patient', 'read') : new Set<string>();
  const resourceFilters = resourceFiltersOf(grant);
  const narrow = (scope: AccessScope): AccessScope => {
    const patients = new Map<string, ReadonlySet<string> | undefined>();
    for (const [patientId, held] of scope.patients) {
      const types = intersect(held, readFor(patientId));
      if (!types || types.size) patients.set(patientId, types);
    }
    // Staff launched for a patient of their organisation: that record, at the types the patient/ scopes name.
    if (scope.organizationId && grant.patientId !== undefined && (launchTypes === 'all' || launchTypes.size)) {
      patients.set(grant.patientId, launchTypes === 'all' ? undefined : launchTypes);
    }
    // Shared types (a Practitioner) follow user/ and system/ scopes, and patient/ scopes while the launch patient is held.
    const anywhere = union(readFor(), grant.patientId !== undefined && patients.has(grant.patientId) ? launchTypes : new Set());
    // The patients map limits what portal callers see per record; staff see their organisation's records by type.
    const allowedTypes = scope.organizationId ? intersect(scope.allowedTypes, readFor()) : scope.allowedTypes;
    return {
      ...scope,
      description: `${scope.description} (SMART scopes)`,
      unrestricted: false,
      patients,
      sharedTypes: new Set([...scope.sharedTypes].filter((t) => anywhere === 'all' || anywhere.has(t))),
      ...(allowedTypes ? { allowedTypes } : {}),
      ...(resourceFilters.size ? { resourceFilters } : {}),
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

/**
 * Per type named by a read scope with a query, the ways a resource of it may be visible. A scope of the same context
 * without a query (or a wildcard one) leaves the type unfiltered there; so the filters never widen: a `user/` query
 * applies to every record the token opens, a `patient/` one to the launch patient's record alone, and a type read
 * through no scope stays invisible whatever the filters say.
 */
function resourceFiltersOf(grant: SmartGrant): ReadonlyMap<string, readonly ResourceFilter[]> {
  const out = new Map<string, readonly ResourceFilter[]>();
  const unfiltered = (contexts: readonly SmartContext[], type: string) =>
    grant.scopes.some((s) => contexts.includes(s.context) && s.read && !s.query && (s.type === '*' || s.type === type));
  const filteredTypes = new Set(grant.scopes.filter((s) => s.read && s.query).map((s) => s.type));
  for (const type of filteredTypes) {
    if (unfiltered(['user', 'system'], type)) continue;
    const filters: ResourceFilter[] = grant.scopes
      .filter((s) => s.read && s.query && s.type === type && s.context !== 'patient')
      .map((s) => ({ query: s.query ?? [] }));
    if (grant.patientId !== undefined) {
      if (unfiltered(['patient'], type)) filters.push({ patientId: grant.patientId, query: [] });
      else
        filters.push(
          ...grant.scopes
            .filter((s) => s.read && s.query && s.type === type && s.context === 'patient')
            .map((s) => ({ patientId: grant.patientId, query: s.query ?? [] })),
        );
    }
    out.set(type, filters);
  }
  return out;
}
