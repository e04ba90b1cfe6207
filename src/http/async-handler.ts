import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type StatementScope, withStatementScope } from '../db/statement-scope';

/**
 * Express 4 does not catch rejected promises; this passes them to the error handler. It also runs the handler in
 * its request's statement scope (cancelOnDisconnect): a body parser calls on from the socket's own async context,
 * where the scope entered before it is lost.
 */
export function asyncHandler(fn: (req: Request, res: Response, next: NextFunction) => Promise<unknown>): RequestHandler {
  return (req, res, next) => {
    const statements = res.locals.statementScope as StatementScope | undefined;
    const run = () => fn(req, res, next).catch(next);
    if (statements) void withStatementScope(statements, run);
    else void run();
  };
}
