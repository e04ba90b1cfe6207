import pino, { type DestinationStream, type Logger } from 'pino';
import { ContextSlot } from './request-context';

/** The id of the request being served, wherever its work goes (set by the request-id middleware). */
const requestIds = new ContextSlot<string>('request id');

/** Runs fn with `requestId` as the current request's id: every log line written meanwhile carries it as reqId. */
export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return requestIds.run(requestId, fn);
}

/** JSON logs on stdout (or `destination`). Callers log ids, paths and statuses, never resource content. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'chartkeeper' },
      redact: ['req.headers.authorization', 'password', 'token'],
      // A line written while serving a request names it, so an error a client reports (by its X-Request-Id) is found.
      mixin: () => {
        const reqId = requestIds.get();
        return reqId === undefined ? {} : { reqId };
      },
    },
    destination,
  );
}
