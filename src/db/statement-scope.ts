import { ContextSlot } from '../request-context';

/**
 * The request a database statement is issued for, carried through its async calls: when the client that sent the
 * request goes away, the scope is aborted, its running statements are cancelled (PostgreSQL) and its next ones are
 * not run (both databases), instead of working on for nobody.
 *
 * A plain object rather than an AbortController: every request gets one, and almost none is ever aborted, so it costs
 * a flag and, while a statement runs, one entry in a set; an AbortController with an EventTarget listener per
 * statement cost several microseconds of CPU per request on the read path (bench/fhir-across-trees.ts).
 */
export class StatementScope {
  private abortedNow = false;
  private readonly running = new Set<() => void>();

  /** Whether the request's client went away. */
  get aborted(): boolean {
    return this.abortedNow;
  }

  /** The client went away: cancel what runs (once), and refuse what comes. */
  abort(): void {
    if (this.abortedNow) return;
    this.abortedNow = true;
    for (const cancel of [...this.running]) cancel();
    this.running.clear();
  }

  /**
   * Settles as `statement` does; `cancel` runs if the scope is aborted before then. A cancel that returns a promise
   * (the cancel request is on its way) holds the statement's settling until it resolves, so the connection is not
   * handed on while the request can still arrive.
   */
  whileRunning<T>(statement: Promise<T>, cancel: () => Promise<void> | void): Promise<T> {
    let cancelling: Promise<void> | void;
    const entry = (): void => {
      cancelling = cancel();
    };
    this.running.add(entry);
    return statement.then(
      (value) => {
        this.running.delete(entry);
        return cancelling ? cancelling.then(() => value) : value;
      },
      (err: unknown) => {
        this.running.delete(entry);
        if (cancelling)
          return cancelling.then(() => {
            throw err;
          });
        throw err;
      },
    );
  }
}

const scope = new ContextSlot<StatementScope>('statement scope');

/** Runs `fn` (and everything it starts) so that its statements stop when `statements` is aborted. */
export function withStatementScope<T>(statements: StatementScope, fn: () => T): T {
  return scope.run(statements, fn);
}

/** The statement scope of the request the current statement belongs to, if any. */
export function currentStatementScope(): StatementScope | undefined {
  return scope.get();
}

/**
 * Runs `fn` outside any request's scope: for work shared by several requests (a group commit) or outliving one,
 * which one client's leaving must not stop.
 */
export function outsideStatementScope<T>(fn: () => T): T {
  return scope.run(undefined, fn);
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
