import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { ThrottledError } from '../auth/throttle-store';
import { isDatabaseUnavailable, isUnstorableText, isWriteConflict } from '../db/db-errors';
import {
  badRequest,
  clientError,
  conflict,
  FhirError,
  internalError,
  payloadTooLarge,
  serviceUnavailable,
  statementTimedOut,
  unsupportedMediaType,
} from '../fhir/outcomes';

/** Maps any error to an OperationOutcome response with the right status; internals are logged, never sent. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const fhirError = toFhirError(err);
    const { message, stack, code } = fieldsOf(err);
    // A 503 the service answers on purpose (too many imports waiting, write-gate.ts) is expected under load: no stack.
    const refusedOnPurpose = err instanceof FhirError && err.status === 503;
    if (refusedOnPurpose) {
      logger.warn({ err: { message }, reqId: res.locals.requestId, method: req.method, path: req.path }, 'service busy');
    } else if (fhirError.status >= 500 && !isDatabaseUnavailable(err) && code !== '57014') {
      logger.error(
        {
          err: { message, stack, code },
          reqId: res.locals.requestId,
          method: req.method,
          path: req.path,
        },
        'request failed',
      );
    } else if (fhirError.status >= 500) {
      // Expected in an outage, so no stack; but the cause (server down, pool timeout, statement timeout) is what an
      // operator needs when a client reports the 503 by its request id.
      logger.warn(
        { err: { message, code }, reqId: res.locals.requestId, method: req.method, path: req.path },
        'database unavailable or statement timed out',
      );
    }
    if (res.headersSent) return res.end();
    // A database coming back is worth retrying soon; a statement stopped for running too long is not.
    if (fhirError.status === 503 && fhirError.outcome.issue?.[0]?.code !== 'timeout') res.setHeader('Retry-After', '1');
    // A throttled request (sign-in, passcode, $transmit...) is told when to come back, wherever it was refused.
    if (err instanceof ThrottledError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
    res.status(fhirError.status).type('application/fhir+json').send(JSON.stringify(fhirError.outcome));
  };
}

/** The FhirError a thrown value stands for. */
export function toFhirError(err: unknown): FhirError {
  if (err instanceof FhirError) return err;
  if (err instanceof OperationOutcomeError) return new FhirError(getStatus(err.outcome) || 400, err.outcome);
  const { type, message, code, limit } = fieldsOf(err);
  if (type === 'entity.too.large') return payloadTooLarge(Number(limit));
  if (type === 'entity.parse.failed') return badRequest(`The body is not valid JSON: ${textOf(message)}`);
  // A Content-Encoding or charset the service does not decode is an unsupported media type (RFC 9110 15.5.16).
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return unsupportedMediaType(textOf(message));
  if (isDatabaseUnavailable(err)) return serviceUnavailable();
  // query_canceled: statement_timeout, or the request's client left (then nobody reads the answer).
  if (code === '57014')
    return /statement timeout/.test(textOf(message)) ? statementTimedOut() : serviceUnavailable('The request was cancelled');
  if (isWriteConflict(err)) return conflict('A concurrent request changed the same data; retry');
  if (code === '22P02' || code === '22007' || code === '22008') return badRequest('A value in the request is not valid');
  if (isUnstorableText(err)) return badRequest('Text may not contain a NUL character (\\u0000)');
  // numeric_value_out_of_range: a number in the request beyond what its column holds.
  if (code === '22003') return badRequest('A number in the request is out of range');
  return fromHttpError(err) ?? internalError();
}

/** The fields that node, pg, body-parser and http-errors put on what they throw; none of them is promised. */
interface ErrorFields {
  readonly message?: unknown;
  readonly stack?: unknown;
  readonly code?: unknown;
  readonly type?: unknown;
  readonly limit?: unknown;
  readonly status?: unknown;
  readonly statusCode?: unknown;
  readonly expose?: unknown;
}

/** The fields of a thrown value, which may be anything (a string, undefined): those of an object, else none. */
function fieldsOf(err: unknown): ErrorFields {
  return typeof err === 'object' && err !== null ? err : {};
}

/** A message field as text: '' when it is absent (or, which none of those libraries does, not a string). */
function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** zlib's codes: a body whose bytes are not what its Content-Encoding says (gzip that is not gzip). */
const ZLIB_CODES = new Set<unknown>(['Z_DATA_ERROR', 'Z_BUF_ERROR', 'Z_STREAM_ERROR', 'Z_NEED_DICT']);

/**
 * The client error an HTTP library raised on the request itself (http-errors with a 4xx status: body-parser's
 * decoding of a Content-Encoding, Express's decoding of a percent-encoded path), said in an OperationOutcome.
 */
function fromHttpError(err: unknown): FhirError | undefined {
  const { status: ownStatus, statusCode, code, message, expose } = fieldsOf(err);
  const status = ownStatus ?? statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 499) return undefined;
  if (ZLIB_CODES.has(code)) return badRequest(`The body could not be decoded as its Content-Encoding says (${textOf(message)})`);
  if (err instanceof URIError || /^Failed to decode param/.test(textOf(message)))
    return badRequest('The URL is not valid percent-encoded UTF-8');
  return clientError(status, typeof message === 'string' && expose !== false ? message : 'The request is not valid');
}
