import { Operator, parseSearchRequest, type SearchRequest } from '@medplum/core';
import { searchParametersOf } from '../definitions';

/** FHIR search's comparison prefixes, which only number, date and quantity values carry. */
const PREFIXES: ReadonlySet<string> = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);

/** A search's query: an object as Express parses it, or the text after `?`. */
export type SearchQuery = Record<string, string | string[] | undefined> | string;

/**
 * Parses a FHIR search as @medplum/core's parseSearchRequest does, except that the value of a parameter that takes
 * no comparison prefix keeps its first letters. Medplum reads a value that starts with a prefix and a digit as that
 * comparison whatever the parameter's type, so `_id=eb1f…` searched for ids "ending before 1f…": a resource whose
 * id, code or reference happened to start so could not be found (about one UUID in 400).
 */
export function parseSearch(type: string, query: SearchQuery = {}): SearchRequest {
  const params = typeof query === 'string' ? new URLSearchParams(query.replace(/^\?/, '')) : toParams(query);
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

function takesPrefix(type: string, code: string): boolean {
  if (code === '_lastUpdated') return true;
  const paramType = searchParametersOf(type)[code]?.type;
  return paramType === 'number' || paramType === 'date' || paramType === 'quantity';
}

function toParams(query: Record<string, string | string[] | undefined>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) params.append(key, v);
  }
  return params;
}
