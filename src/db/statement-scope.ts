import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The request a database statement is issued for, carried through its async calls: when the client that sent the
 * request goes away, the signal aborts, its running statement is cancelled (PostgreSQL) and its next ones are not
 * run (both databases), instead of working on for nobody.
 */
const scope = new AsyncLocalStorage<{ readonly signal: AbortSignal }>();

/** Runs `fn` (and everything it starts) so that its statements stop when `signal` aborts. */
export function withStatementSignal<T>(signal: AbortSignal, fn: () => T): T {
  return scope.run({ signal }, fn);
}

/** The abort signal of the request the current statement belongs to, if any. */
export function currentStatementSignal(): AbortSignal | undefined {
  return scope.getStore()?.signal;
}

/**
 * Runs `fn` outside any request's scope: for work shared by several requests (a group commit) or outliving one,
 * which one client's leaving must not stop.
 */
export function outsideStatementScope<T>(fn: () => T): T {
  return scope.exit(fn);
}

/** A statement not run, or cancelled, because its request's client went away (PostgreSQL's query_canceled code). */
export class StatementCancelledError extends Error {
  readonly code = '57014';
  constructor() {
    super('canceling statement due to user request: the client went away');
  }
}

/** Statements that end a transaction run even for a request whose client left, so its connection is left clean. */
export function endsTransaction(text: string): boolean {
  return /^\s*(rollback|commit|release)\b/i.test(text);
}
