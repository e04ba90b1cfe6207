import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Response } from 'express';
import type { StoredVersion } from '../fhir/repository';

/** The FHIR JSON media type every resource response uses. */
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Sends a resource with ETag and Last-Modified taken from its meta. */
export function sendResource(res: Response, status: number, resource: Resource, options: { location?: string } = {}): void {
  versionHeaders(res, resource, options);
  res.status(status).type(FHIR_JSON).send(JSON.stringify(resource));
}

/**
 * Answers a create or update as the client's `Prefer: return=` asks (FHIR R4 http.html#ops): the resource
 * (representation, the default), nothing (minimal: the headers say where and which version), or an
 * OperationOutcome saying what was done.
 */
export function sendWritten(
  res: Response,
  prefer: string | undefined,
  status: number,
  resource: Resource,
  options: { location?: string; unchanged?: boolean } = {},
): void {
  const wanted = /(?:^|[;,\s])return\s*=\s*"?(minimal|representation|OperationOutcome)"?/i.exec(prefer ?? '')?.[1]?.toLowerCase();
  if (wanted === 'minimal') {
    versionHeaders(res, resource, options);
    res.status(status).end();
    return;
  }
  if (wanted === 'operationoutcome') {
    versionHeaders(res, resource, options);
    const done = status === 201 ? 'Created' : options.unchanged ? 'Unchanged (the same content as the current version)' : 'Updated';
    const outcome: OperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'information',
          code: 'informational',
          details: { text: `${done}: ${resource.resourceType}/${resource.id}, version ${resource.meta?.versionId}` },
        },
      ],
    };
    res.status(status).type(FHIR_JSON).send(JSON.stringify(outcome));
    return;
  }
  sendResource(res, status, resource, options);
}

function versionHeaders(res: Response, resource: Resource, options: { location?: string }): void {
  if (resource.meta?.versionId) res.setHeader('ETag', `W/"${resource.meta.versionId}"`);
  if (resource.meta?.lastUpdated) res.setHeader('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
  if (options.location) res.setHeader('Location', options.location);
}

/** Sends a stored version as it is stored: no parse, no re-serialisation on the read path. */
export function sendStored(res: Response, stored: StoredVersion): void {
  res.setHeader('ETag', `W/"${stored.version}"`);
  res.setHeader('Last-Modified', stored.lastUpdated.toUTCString());
  res.status(200).type(FHIR_JSON).send(stored.content);
}

/**
 * Sends FHIR JSON already serialised (a search's Bundle, built around the stored JSON of its entries): its bytes with
 * their Content-Length, the head and the body in one write. Encoded once into a Buffer: handed a string, Node would join
 * the head to it and copy the whole text once more. Express's send would do the same, after looking the Content-Type
 * up and parsing it again and asking whether the request is fresh, which a Bundle (no ETag, no Last-Modified) never is.
 */
export function sendJsonText(res: Response, json: string): void {
  const body = Buffer.from(json, 'utf8');
  res.statusCode = 200;
  res.setHeader('Content-Type', FHIR_JSON);
  res.setHeader('Content-Length', body.length);
  // HEAD: the same head, no body (as Express answers it).
  if (res.req.method === 'HEAD') res.end();
  else res.end(body);
}
