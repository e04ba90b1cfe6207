import { createHash } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';

/** The comment that marks a statement for preparing once per connection (see database.ts). */
export const PREPARED = '/*prepared*/ ';

/** The comment that marks a statement whose text follows the shape of a request (preparedShape). */
export const PREPARED_SHAPE = '/*prepared shape*/ ';

/**
 * The most texts marked by preparedShape that are prepared; later shapes run unprepared. Every prepared text is kept
 * on every connection with its plan (tens of kB each for a search page), and a client can vary a search's shape at
 * will (filters, OR lists, sort keys): a bound keeps that from growing each connection without end, while the few
 * shapes a portal sends all the time are among the first seen.
 */
export const MAX_PREPARED_SHAPES = 64;

const names = new Map<string, string>();
let shapes = 0;

/** A stable statement name for a marked text, or undefined when it is not to be prepared. */
export function preparedName(text: string): string | undefined {
  let name = names.get(text);
  if (name) return name;
  if (text.startsWith(PREPARED_SHAPE)) {
    if (shapes >= MAX_PREPARED_SHAPES) return undefined;
    shapes++;
  } else if (!text.startsWith(PREPARED)) return undefined;
  name = `ck_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
  names.set(text, name);
  return name;
}

/**
 * Marks a statement for preparing. Use only for hot statements whose text takes a bounded number of shapes
 * (values always as parameters), since each shape stays prepared on every connection.
 */
export function prepared<T>(statement: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`${sql.raw(PREPARED)}${statement}`;
}

/**
 * Marks a statement whose text follows the shape of a request (a search's parameters, a caller's kind of scope; values
 * always as parameters) for preparing while fewer than MAX_PREPARED_SHAPES such texts are prepared.
 */
export function preparedShape<T>(statement: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`${sql.raw(PREPARED_SHAPE)}${statement}`;
}
