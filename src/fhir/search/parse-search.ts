import { getSearchParameters, Operator, parseSearchRequest, type SearchRequest } from '@medplum/core';
import { INDEXED_KINDS, searchParametersOf } from '../definitions';
import { checkText, isInheritedKey } from '../input-limits';
import { badRequest } from '../outcomes';

/** FHIR search's comparison prefixes, which only number, date and quantity values carry. */
const PREFIXES: ReadonlySet<string> = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);

/** A search's query: an object as the HTTP layer parses it (a name's value, or its repetitions), or the text after `?`. */
export type SearchQuery = Readonly<Record<string, string | readonly string[] | undefined>> | string;

/**
 * Parses a FHIR search as @medplum/core's parseSearchRequest does, except that the value of a parameter that takes
 * no comparison prefix keeps its first letters. Medplum reads a value that starts with a prefix and a digit as that
 * comparison whatever the parameter's type, so `_id=eb1f…` searched for ids "ending before 1f…": a resource whose
 * id, code or reference happened to start so could not be found (about one UUID in 400).
 */
export function parseSearch(type: string, query: SearchQuery = {}): SearchRequest {
  const params = typeof query === 'string' ? new URLSearchParams(query.replace(/^\?/, '')) : toParams(query);
  checkSize(params);
  for (const [key, value] of params) {
    checkText(key);
    checkText(value, key);
    refuseInheritedNames(type, key);
  }
  checkPaging(params);
  refuseUnsupportedKinds(type, params);
  const request = parseSearchRequest(type, Object.fromEntries([...new Set(params.keys())].map((key) => [key, params.getAll(key)])));
  if (!request.filters?.length) return request;
  // The raw values of each plain key (no modifier), in order: the filters medplum made of them come in that order.
  const raw = new Map<string, string[]>();
  for (const [key, value] of params) if (!key.includes(':')) raw.set(key, [...(raw.get(key) ?? []), value]);
  const filters = request.filters.map((filter) => {
    if (!PREFIXES.has(filter.operator)) return filter;
    const value = raw.get(filter.code)?.shift();
    if (value === undefined || takesPrefix(type, filter.code)) return filter;
    return { ...filter, operator: Operator.EQUALS, value };
  });
  return { ...request, filters };
}

/**
 * Throws 400 for a parameter of a kind the server does not search on (composite, special): it is not in the
 * CapabilityStatement, and medplum's parser, which knows the R4 definition, would fail on it with a plain Error.
 */
function refuseUnsupportedKinds(type: string, params: URLSearchParams): void {
  const definitions = getSearchParameters(type) ?? {};
  for (const key of new Set(params.keys())) {
    // Chains and _has are parsed without a definition; filterCondition refuses them.
    if (key.includes('.') || key.startsWith('_has')) continue;
    const code = key.split(':')[0];
    const kind = definitions[code]?.type;
    if (kind && !INDEXED_KINDS.has(kind)) throw badRequest(`Search parameter "${code}" (${kind}) is not supported`, code, 'not-supported');
  }
}

/**
 * The most parameters one search takes (every `name=value`, `_count` and `_sort` included). Each filter is a join
 * the database plans with all the others, and planning grows faster than their number: 80 codes ANDed took 1.5 s
 * on the embedded database, 400 took 44 s with everything else waiting. Real clients use a handful.
 */
export const MAX_SEARCH_PARAMETERS = 30;

/** The most values (a parameter's comma-separated alternatives, over all parameters) one search takes. */
export const MAX_SEARCH_VALUES = 200;

/** Throws 400 naming the limit when a search has more parameters or values than a search may. */
function checkSize(params: URLSearchParams): void {
  let count = 0;
  let values = 0;
  for (const [, value] of params) {
    count++;
    values += value.split(/(?<!\\),/).length;
  }
  if (count > MAX_SEARCH_PARAMETERS) {
    throw badRequest(`A search may have at most ${MAX_SEARCH_PARAMETERS} parameters; this one has ${count}`, undefined, 'too-costly');
  }
  if (values > MAX_SEARCH_VALUES) {
    throw badRequest(
      `A search may have at most ${MAX_SEARCH_VALUES} values (comma-separated alternatives included); this one has ${values}`,
      undefined,
      'too-costly',
    );
  }
}

/**
 * The deepest page a search reaches by `_offset`: the database reads and throws away every row before it, so a deep
 * offset costs as much as reading the whole result. Past it, a client narrows the search (`_lastUpdated`, `_id`).
 */
export const MAX_SEARCH_OFFSET = 10_000;

/**
 * Throws 400 unless `_count` and `_offset` are whole numbers written as digits (medplum's parseInt reads `1.5` as
 * 1 and `1e30` as 1, and passes 99999999999999999999 to the database, whose bigint it overflows: a 500), and
 * `_offset` at most MAX_SEARCH_OFFSET. A large `_count` is served as the largest page (FHIR lets a server give fewer).
 */
function checkPaging(params: URLSearchParams): void {
  for (const name of ['_count', '_offset']) {
    const values = params.getAll(name);
    if (values.length > 1) throw badRequest(`${name} may be given once`, name);
    if (!values.length) continue;
    if (!/^\d{1,20}$/.test(values[0])) throw badRequest(`${name} must be a whole number of at least 0, got "${values[0]}"`, name);
    if (name === '_offset' && Number(values[0]) > MAX_SEARCH_OFFSET) {
      throw badRequest(
        `_offset may be at most ${MAX_SEARCH_OFFSET}; narrow the search (by _lastUpdated or _id, say) to reach further`,
        name,
      );
    }
  }
}

/**
 * Throws 400 for a parameter whose name, modifier or chained name is a property every object inherits
 * (`constructor`, `toString`, `__proto__`): medplum's parser looks names up in plain objects and would take the
 * inherited function for a definition (a 500). Such a name is as unknown as any other.
 */
function refuseInheritedNames(type: string, key: string): void {
  const [code, ...rest] = key.split(/[:.]/);
  if (isInheritedKey(code)) throw badRequest(`Unknown search parameter "${code}" for ${type}`, code);
  const part = rest.find(isInheritedKey);
  if (part !== undefined) throw badRequest(`Modifier or chained name "${part}" of search parameter "${code}" is not supported`, code);
}

function takesPrefix(type: string, code: string): boolean {
  if (code === '_lastUpdated') return true;
  const paramType = searchParametersOf(type)[code]?.type;
  return paramType === 'number' || paramType === 'date' || paramType === 'quantity';
}

function toParams(query: Readonly<Record<string, string | readonly string[] | undefined>>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const v of typeof value === 'string' ? [value] : (value ?? [])) params.append(key, v);
  }
  return params;
}
