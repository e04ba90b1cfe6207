/**
 * An operation's parameters as one flat list of names and values, from the query (GET, or POST with a query) and a
 * `Parameters` body. A parameter an operation takes more than once (`repeatable`: `_type` of `$export`) may be given
 * several times, anywhere, and its values are joined with commas, as FHIR reads a comma-separated list; any other
 * given twice is a 400 naming it, rather than one of its values silently winning (Express keeps every repetition of
 * a query name, and a body entry would overwrite one of the query's).
 */
import type { Parameters } from '@medplum/fhirtypes';
import { badRequest } from '../fhir/outcomes';
import { type QueryParams, queryValues } from './query-string';

/** The most values one operation request carries, repetitions included. */
export const MAX_OPERATION_VALUES = 100;

/** The parameters of one operation call; throws 400 for a value that is not a plain one or a name given twice. */
export function operationParams(
  operation: { readonly name: string; readonly repeatable?: readonly string[] },
  query: QueryParams,
  body: unknown,
): Record<string, string | undefined> {
  const values = new Map<string, string[]>();
  let count = 0;
  const add = (name: string, value: string) => {
    if (++count > MAX_OPERATION_VALUES) throw badRequest(`$${operation.name} takes at most ${MAX_OPERATION_VALUES} parameter values`);
    values.set(name, [...(values.get(name) ?? []), value]);
  };
  for (const name of Object.keys(query)) for (const value of queryValues(query, name)) add(name, value);
  if (isParameters(body)) {
    for (const parameter of body.parameter ?? []) {
      const value: unknown = Object.entries(parameter).find(([key]) => key.startsWith('value'))?.[1];
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') add(String(parameter.name), String(value));
    }
  }
  const params: Record<string, string | undefined> = {};
  for (const [name, list] of values) {
    if (list.length > 1 && !operation.repeatable?.includes(name))
      throw badRequest(`$${operation.name} takes one ${name.slice(0, 64)}; it was given ${list.length} times`, name);
    params[name] = list.join(',');
  }
  return params;
}

/** Whether a parsed JSON body is a Parameters resource (its parameters are then read as the operation's). */
export function isParameters(body: unknown): body is Parameters {
  return typeof body === 'object' && body !== null && (body as { resourceType?: unknown }).resourceType === 'Parameters';
}
