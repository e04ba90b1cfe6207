/** PostgreSQL SQLSTATE classes and socket errors that mean "the server is not reachable right now". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08003',
  '08006',
  '08001',
  '08004', // connection exceptions
]);

const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'terminating connection',
  'the database system is starting up',
  'the database system is shutting down',
];

/** True when a database error means the server is down or restarting, so the client may retry (503). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.includes(m));
}

/** True for PostgreSQL's serialization and unique-violation errors a concurrent writer can cause. */
export function isWriteConflict(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '40001' || code === '40P01' || code === '23505';
}

/**
 * True for PostgreSQL refusing text it cannot store: a NUL character in text (22021, "invalid byte sequence for
 * encoding UTF8: 0x00") or `\u0000` in jsonb (22P05). Input checks refuse NULs first; this is the safety net.
 */
export function isUnstorableText(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '22021' || code === '22P05';
}
