import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables';

/**
 * A conditional create or update (`ifNoneExist`, `PUT Type?query`) searches and then writes: two transactions with
 * the same condition at once (a client that timed out and posted again while its first try still runs) would each
 * find no match and each create one. So the condition is locked, a PostgreSQL advisory lock held until the
 * transaction ends: the second waits, and then (each statement reads what is committed by then) finds what the
 * first created. A transaction takes all its conditions' locks at once in one order, so two never wait on each other.
 * Only a condition that matches nothing committed is locked: where a match exists there is nothing to create, and a
 * lock held for the length of a large transaction (a C-CDA import naming the same author organisation as every other
 * document from its sender) would make every such import wait on the one before it, each holding a pool connection.
 */

/** One condition: the type and the search query that names the resource. */
export interface Condition {
  readonly type: string;
  readonly query: string;
}

/** The 64-bit lock key of a condition (its own namespace, apart from the jobs' locks). */
function lockKey(condition: Condition): bigint {
  return createHash('sha256').update(`chartkeeper:condition:${condition.type}?${condition.query}`).digest().readBigInt64BE(0);
}

/** Takes the lock of each condition until the transaction trx ends, in the order of their keys. */
export async function lockConditions(trx: Kysely<Tables>, conditions: readonly Condition[]): Promise<void> {
  if (!trx.isTransaction) throw new Error('lockConditions needs a transaction: the lock is held until it ends');
  const keys = [...new Set(conditions.map(lockKey))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const key of keys) await sql`select pg_advisory_xact_lock(${key.toString()}::bigint)`.execute(trx);
}

/** A condition's identity: the same type and query are the same condition (and the same lock). */
export function conditionKey(condition: Condition): string {
  return `${condition.type}?${condition.query}`;
}

/**
 * The one match of each condition (found by `find`), keyed by conditionKey, or undefined where there is none. Only
 * the conditions that match nothing committed are locked, then searched again (see above).
 */
export async function matchConditions<T>(
  trx: Kysely<Tables>,
  conditions: readonly Condition[],
  find: (condition: Condition) => Promise<T | undefined>,
): Promise<Map<string, T | undefined>> {
  const distinct = new Map(conditions.map((condition) => [conditionKey(condition), condition]));
  const matches = new Map<string, T | undefined>();
  for (const [key, condition] of distinct) matches.set(key, await find(condition));
  const unmatched = [...distinct].filter(([key]) => matches.get(key) === undefined);
  if (!unmatched.length) return matches;
  await lockConditions(
    trx,
    unmatched.map(([, condition]) => condition),
  );
  for (const [key, condition] of unmatched) matches.set(key, await find(condition));
  return matches;
}
