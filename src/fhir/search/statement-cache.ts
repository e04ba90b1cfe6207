/**
 * Search statements compiled once per shape. A portal asks the same few searches all day for one patient after another
 * (a record's labs, its inbox, a name and birth date): the statement's text is the same each time, and only values
 * change. A statement is built with a Slot wherever such a value goes, compiled once, and each later search of the
 * shape binds its own values to the slots, with no build or compile of its own.
 *
 * Exactness rests on the key: it names everything the statement's text was built from except the slotted values, and a
 * slotted value is one the builders only put in as a parameter, never look at (search-filters.ts boundValues,
 * match-source.ts drivingReference). test/search-statement-cache.test.ts compares cached and freshly built statements.
 */
import { CompiledQuery, type RawBuilder } from 'kysely';

/** Where a compiled statement takes one of each search's values: compiled as a parameter, bound when it runs. */
export class Slot {
  constructor(readonly name: string) {}
}

/** A statement compiled with slots: its text, its parameters, and which of them are slots. */
export interface CompiledShape {
  readonly sql: string;
  readonly parameters: readonly unknown[];
  readonly slots: readonly { readonly index: number; readonly name: string }[];
}

/** Compiles a statement built with slots. */
export function compileShape(db: Parameters<RawBuilder<unknown>['compile']>[0], statement: RawBuilder<unknown>): CompiledShape {
  const { sql, parameters } = statement.compile(db);
  const slots: { index: number; name: string }[] = [];
  parameters.forEach((value, index) => {
    if (value instanceof Slot) slots.push({ index, name: value.name });
  });
  return { sql, parameters, slots };
}

/** The statement to run: the compiled shape with this search's values in its slots. Throws if one has no value. */
export function bindShape<R>(shape: CompiledShape, values: ReadonlyMap<string, unknown>): CompiledQuery<R> {
  const parameters = shape.parameters.slice();
  for (const { index, name } of shape.slots) {
    if (!values.has(name)) throw new Error(`No value for the slot "${name}" of a compiled search statement`);
    parameters[index] = values.get(name);
  }
  return CompiledQuery.raw(shape.sql, parameters);
}

/** The most shapes kept: each holds its text (a few kB) and what the search needs besides it. */
export const MAX_CACHED_SHAPES = 500;

/**
 * Compiled shapes by key, the least recently used dropped first. A key is kept only from its second search on: a
 * caller seen once (a token used for one request, a scope built for one) would otherwise push out the shapes of the
 * searches that come again and again.
 */
export class ShapeCache<T> {
  private readonly kept = new Map<string, T>();
  private readonly seenOnce = new Set<string>();

  constructor(private readonly capacity = MAX_CACHED_SHAPES) {}

  get(key: string): T | undefined {
    const found = this.kept.get(key);
    if (found === undefined) return undefined;
    // Most recently used last (Map keeps insertion order).
    this.kept.delete(key);
    this.kept.set(key, found);
    return found;
  }

  /** Keeps `value` for `key` if the key was offered before (and not kept since). */
  offer(key: string, value: T): void {
    if (!this.seenOnce.delete(key)) {
      if (this.seenOnce.size >= this.capacity) this.seenOnce.delete(this.seenOnce.values().next().value as string);
      this.seenOnce.add(key);
      return;
    }
    if (this.kept.size >= this.capacity) this.kept.delete(this.kept.keys().next().value as string);
    this.kept.set(key, value);
  }

  /** How many shapes are kept (for tests). */
  get size(): number {
    return this.kept.size;
  }
}

const scopeIds = new WeakMap<object, number>();
let lastScopeId = 0;

/**
 * A key part for an object whose contents a statement's text was built from (a caller's access scope): the same
 * object, the same part. The object must not change (scopes are read-only); a new object gets a new part, even if equal.
 */
export function identityKey(object: object): string {
  let id = scopeIds.get(object);
  if (id === undefined) {
    id = ++lastScopeId;
    scopeIds.set(object, id);
  }
  return `#${id}`;
}
