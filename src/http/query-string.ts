/**
 * The query string as every route reads it: each name holds its one value, or the list of its values when it is
 * repeated, however many there are. Express's default parser (qs) turns `name[a]=x` into an object and more than 20
 * repetitions of one name into an object keyed "0", "1"..., so a search repeating `code` 25 times reached the search
 * parser as "[object Object]". Here a name is the text before `=`, brackets and all, as FHIR reads it, and a value is
 * always text.
 */
import type { Request } from 'express';

/** A parsed query: every value a string, or the strings of a repeated name in the order given. */
export type QueryParams = Readonly<Record<string, string | readonly string[]>>;

/**
 * Parses the text after `?` (Express's 'query parser'): names and values decoded as URLSearchParams decodes them
 * (`+` a space, `%xx` escapes), repetitions kept in order. The object has no prototype, so `__proto__` or
 * `constructor` is a name like any other, for the routes to refuse as unknown.
 */
export function parseQueryString(text: string | null | undefined): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  if (!text) return query;
  for (const [name, value] of new URLSearchParams(text)) {
    const held = query[name];
    if (held === undefined) query[name] = value;
    else if (Array.isArray(held)) held.push(value);
    else query[name] = [held, value];
  }
  return query;
}

/** The request's query as parseQueryString made it (createApp installs it as the app's query parser). */
export function queryOf(req: Request): QueryParams {
  return req.query as QueryParams;
}

/** The values of one query name, as a list (empty when absent). */
export function queryValues(query: QueryParams, name: string): readonly string[] {
  const value = Object.hasOwn(query, name) ? query[name] : undefined;
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}
