import type { Request, RequestHandler } from 'express';
import type { Authenticator } from '../access/caller';
import { unauthorized } from '../fhir/outcomes';
import { asyncHandler } from './async-handler';

/** The token of an `Authorization: Bearer <token>` header; undefined when the header is absent or of another form. */
export function bearerToken(header: string | undefined): string | undefined {
  return header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
}

/**
 * Requires `Authorization: Bearer <jwt>` and puts the verified Caller on res.locals.caller. `confirmedInStatement` tells
 * the requests whose handler confirms a caller taken on trust in its own statement (see Caller.unconfirmed).
 */
export function requireCaller(authenticator: Authenticator, confirmedInStatement: (req: Request) => boolean = () => false): RequestHandler {
  return asyncHandler(async (req, res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw unauthorized('A bearer token is required (Authorization: Bearer <token>)');
    }
    try {
      res.locals.caller = await authenticator.authenticate(token, { confirmedInStatement: confirmedInStatement(req) });
    } catch (err) {
      res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw err;
    }
    next();
  });
}
