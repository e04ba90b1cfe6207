import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { ThrottledError } from '../auth/throttle-store';
import { isDatabaseUnavailable, isUnstorableText, isWriteConflict } from '../db/db-errors';
import { badRequest, conflict, FhirError, internalError, payloadTooLarge, serviceUnavailable } from '../fhir/outcomes';

/** Maps any error to an OperationOutcome response with the right status; internals are logged, never sent. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const fhirError = toFhirError(err);
    if (fhirError.status >= 500 && !isDatabaseUnavailable(err)) {
      logger.error({ err: { message: err?.message, stack: err?.stack, code: err?.code }, reqId: res.locals.requestId, method: req.method, path: req.path }, 'request failed');
    }
    if (res.headersSent) return res.end();
    if (fhirError.status === 503) res.setHeader('Retry-After', '1');
    // A throttled request (sign-in, passcode, $transmit...) is told when to come back, wherever it was refused.
    if (err instanceof ThrottledError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
    res.status(fhirError.status).type('application/fhir+json').send(JSON.stringify(fhirError.outcome));
  };
}

/** The FhirError a thrown value stands for. */
export function toFhirError(err: any): FhirError {
  if (err instanceof FhirError) return err;
  if (err instanceof OperationOutcomeError) return new FhirError(getStatus(err.outcome) || 400, err.outcome);
  if (err?.type === 'entity.too.large') return payloadTooLarge(err.limit);
  if (err?.type === 'entity.parse.failed') return badRequest(`The body is not valid JSON: ${err.message}`);
  if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported') return badRequest(err.message);
  if (isDatabaseUnavailable(err)) return serviceUnavailable();
  if (isWriteConflict(err)) return conflict('A concurrent request changed the same data; retry');
  if (err?.code === '22P02' || err?.code === '22007' || err?.code === '22008') return badRequest('A value in the request is not valid');
  if (isUnstorableText(err)) return badRequest('Text may not contain a NUL character (\\u0000)');
  return internalError();
}
