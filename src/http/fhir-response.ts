import type { Resource } from '@medplum/fhirtypes';
import type { Response } from 'express';
import type { StoredVersion } from '../fhir/repository';

/** The FHIR JSON media type every resource response uses. */
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Sends a resource with ETag and Last-Modified taken from its meta. */
export function sendResource(res: Response, status: number, resource: Resource, options: { location?: string } = {}): void {
  if (resource.meta?.versionId) res.setHeader('ETag', `W/"${resource.meta.versionId}"`);
  if (resource.meta?.lastUpdated) res.setHeader('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
  if (options.location) res.setHeader('Location', options.location);
  res.status(status).type(FHIR_JSON).send(JSON.stringify(resource));
}

/** Sends a stored version as it is stored: no parse, no re-serialisation on the read path. */
export function sendStored(res: Response, stored: StoredVersion): void {
  res.setHeader('ETag', `W/"${stored.version}"`);
  res.setHeader('Last-Modified', stored.lastUpdated.toUTCString());
  res.status(200).type(FHIR_JSON).send(stored.content);
}
