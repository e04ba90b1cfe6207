import pino, { Logger } from 'pino';

/** JSON logs on stdout. Callers log ids, paths and statuses, never resource content. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'chartkeeper' }, redact: ['req.headers.authorization', 'password', 'token'] });
}
