import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { runWithRequestId } from '../logger';

/** What a client's or proxy's X-Request-Id may look like to be kept: short, printable, nothing to inject into a log. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@+=/-]{1,128}$/;

/**
 * Gives each request an id: the client's X-Request-Id when it is sane, else a new UUID. It is returned in the
 * response's X-Request-Id and carried by every log line written while the request is served.
 */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const offered = req.headers['x-request-id'];
    const id = typeof offered === 'string' && SANE_REQUEST_ID.test(offered) ? offered : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    runWithRequestId(id, next);
  };
}
