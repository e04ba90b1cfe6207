import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Caller } from '../access/caller';

/**
 * One structured line per request: method, path without the query string (queries can hold names
 * and birth dates), status, time, caller kind and the request id. Bodies are never logged.
 */
export function requestLog(logger: Logger): RequestHandler {
  // With info off (LOG_LEVEL=warn) the line would be dropped anyway: skip the timer and the listener too.
  if (!logger.isLevelEnabled('info')) return (_req, _res, next) => next();
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    // Read now: by the time the response is sent, a router may have cut its mount path off req.path.
    const path = req.path;
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        {
          reqId: res.locals.requestId,
          method: req.method,
          path,
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
          caller: (res.locals.caller as Caller | undefined)?.kind,
        },
        'request',
      );
    });
    next();
  };
}
