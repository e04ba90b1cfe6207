import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/** An error that reaches the client as this OperationOutcome with this HTTP status. */
export class FhirError extends OperationOutcomeError {
  constructor(
    readonly status: number,
    outcome: OperationOutcome,
  ) {
    super(outcome);
  }
}

function outcome(code: OperationOutcomeIssue['code'], text: string, expression?: string[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text }, ...(expression?.length ? { expression } : {}) }],
  };
}

/** 400: the request itself is wrong; the message says what and where (and `code` what kind of wrong, if not plain `invalid`). */
export function badRequest(text: string, expression?: string, code: OperationOutcomeIssue['code'] = 'invalid'): FhirError {
  return new FhirError(400, outcome(code, text, expression ? [expression] : undefined));
}

/** 400 with one issue per validation problem. */
export function invalidResource(issues: OperationOutcomeIssue[]): FhirError {
  return new FhirError(400, { resourceType: 'OperationOutcome', issue: issues });
}

/** 404: no such resource, or one the caller may not see (never told apart). */
export function notFound(what = 'Resource'): FhirError {
  return new FhirError(404, outcome('not-found', `${what} not found`));
}

/** 410: the resource was deleted. */
export function gone(what: string): FhirError {
  return new FhirError(410, outcome('deleted', `${what} has been deleted`));
}

/** 412: If-Match named a version that is no longer current, or a conditional matched too much. */
export function preconditionFailed(text: string): FhirError {
  return new FhirError(412, outcome('conflict', text));
}

/** 409: the write conflicts with the stored state. */
export function conflict(text: string): FhirError {
  return new FhirError(409, outcome('conflict', text));
}

/** 401: no credentials, or credentials that do not verify. */
export function unauthorized(text = 'Authentication required'): FhirError {
  return new FhirError(401, outcome('login', text));
}

/** 403: authenticated but not allowed, used only where existence is not secret. */
export function forbidden(text = 'Forbidden'): FhirError {
  return new FhirError(403, outcome('forbidden', text));
}

/** 413: the body is over the configured limit. */
export function payloadTooLarge(limitBytes: number): FhirError {
  return new FhirError(413, outcome('too-long', `Request body is larger than the limit of ${limitBytes} bytes`));
}

/** 406: the client asked for a format the server does not produce. */
export function notAcceptable(asked: string): FhirError {
  return new FhirError(
    406,
    outcome('not-supported', `${asked} is not offered: resources are served as FHIR JSON (application/fhir+json; _format=json)`),
  );
}

/** 415: a content type this endpoint does not take. */
export function unsupportedMediaType(text: string): FhirError {
  return new FhirError(415, outcome('not-supported', text));
}

/** 405: the interaction exists but not on this target. */
export function methodNotAllowed(text: string): FhirError {
  return new FhirError(405, outcome('not-supported', text));
}

/** 429: too many attempts; try again later. */
export function tooManyRequests(text: string): FhirError {
  return new FhirError(429, outcome('throttled', text));
}

/** 503: the database is unreachable right now; the request can be retried. */
export function serviceUnavailable(text = 'The database is temporarily unavailable; please retry'): FhirError {
  return new FhirError(503, outcome('transient', text));
}

/** Any other 4xx the HTTP layer raises (a library's http-error), with its own status and text. */
export function clientError(status: number, text: string, code: OperationOutcomeIssue['code'] = 'invalid'): FhirError {
  return new FhirError(status, outcome(code, text));
}

/** 503: the database stopped a statement that ran longer than STATEMENT_TIMEOUT_MS allows. */
export function statementTimedOut(): FhirError {
  return new FhirError(
    503,
    outcome(
      'timeout',
      'The request took longer than the database allows for one statement, and was stopped; narrow it (fewer parameters, a shorter period) and try again',
    ),
  );
}

/** 500 with a message that reveals no internals. */
export function internalError(): FhirError {
  return new FhirError(500, outcome('exception', 'Internal server error'));
}
