import type { RequestHandler } from 'express';
import { StatementScope, withStatementScope } from '../db/statement-scope';

/**
 * Runs the rest of the request in a statement scope (src/db/statement-scope.ts) that is aborted when the client
 * closes the connection before its answer is sent: its running PostgreSQL statement is cancelled and no further
 * statement of it runs, so a client that gives up stops its work too.
 */
export function cancelOnDisconnect(): RequestHandler {
  return (_req, res, next) => {
    const statements = new StatementScope();
    res.on('close', () => {
      if (!res.writableFinished) statements.abort();
    });
    // Kept for asyncHandler too, which enters the scope again after a body parser lost it.
    res.locals.statementScope = statements;
    withStatementScope(statements, next);
  };
}
