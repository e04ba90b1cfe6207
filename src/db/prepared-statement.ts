import { createHash } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';

/** The comment that marks a statement for preparing once per connection (see database.ts). */
export const PREPARED = '/*prepared*/ ';

const names = new Map<string, string>();

/** A stable statement name for a marked text. */
export function preparedName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `ck_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Marks a statement for preparing. Use only for hot statements whose text takes a bounded number of shapes
 * (values always as parameters), since each shape stays prepared on every connection.
 */
export function prepared<T>(statement: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`${sql.raw(PREPARED)}${statement}`;
}
