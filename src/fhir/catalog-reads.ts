/**
 * Reads of the service's own terminology (terminology-catalog.ts) in the shapes the repository answers with: a
 * stored version, a searchset, a history. The catalog holds no patient data, so every signed-in caller reads it
 * whole; it has one version, the one shipped.
 */
import type { SearchRequest } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from './definitions';
import { badRequest, methodNotAllowed, notFound } from './outcomes';
import { catalogList, catalogRead } from './terminology-catalog';

export { CATALOG_TYPES } from './terminology-catalog';

/** The search parameters a catalog search takes: a portal form finds its list by url or name. */
const CATALOG_SEARCH_PARAMS = new Set(['_id', 'url', 'name', 'status', 'title']);

/** A catalog resource as stored text, version 1 (what readStored and vread answer). */
export function catalogStored(
  type: string,
  id: string,
  versionId?: string,
): { type: string; id: string; version: number; lastUpdated: Date; content: string } {
  loadFhirDefinitions();
  const resource = catalogRead(type, id);
  if (!resource) throw notFound(`${type}/${id}`);
  if (versionId !== undefined && versionId !== '1') throw notFound(`${type}/${id}/_history/${versionId}`);
  const withMeta = present(resource);
  return { type, id, version: 1, lastUpdated: lastUpdatedOf(resource), content: JSON.stringify(withMeta) };
}

/** A search of the catalog: by _id, url, name, title or status; anything else is 400 naming what is offered. */
export function catalogSearch(request: SearchRequest, selfUrl: string): Bundle {
  loadFhirDefinitions();
  for (const filter of request.filters ?? []) {
    if (
      !CATALOG_SEARCH_PARAMS.has(filter.code) ||
      (filter.operator !== 'eq' && filter.operator !== 'exact' && filter.operator !== 'contains')
    ) {
      throw badRequest(
        `${request.resourceType} is the service's own terminology: search it by ${[...CATALOG_SEARCH_PARAMS].join(', ')} only`,
        filter.code,
      );
    }
  }
  if (request.include?.length || request.revInclude?.length || request.sortRules?.length) {
    throw badRequest(`${request.resourceType} is the service's own terminology: _include, _revinclude and _sort are not offered on it`);
  }
  const matches = catalogList(request.resourceType).filter((resource) =>
    (request.filters ?? []).every((filter) => {
      const values = filter.value.split(',');
      const field = filter.code === '_id' ? resource.id : (resource as unknown as Record<string, unknown>)[filter.code];
      if (typeof field !== 'string') return false;
      if (filter.code === '_id' || filter.code === 'url' || filter.code === 'status' || filter.operator === 'exact')
        return values.includes(field);
      const text = field.toLowerCase();
      return values.some((v) => (filter.operator === 'contains' ? text.includes(v.toLowerCase()) : text.startsWith(v.toLowerCase())));
    }),
  );
  const count = request.count ?? 20;
  const offset = request.offset ?? 0;
  const page = matches.slice(offset, offset + Math.max(0, count));
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matches.length,
    link: [{ relation: 'self', url: selfUrl }],
    entry: page.map((resource) => ({
      fullUrl: `${selfUrl.split('?')[0]}/${resource.id}`,
      resource: present(resource),
      search: { mode: 'match' },
    })),
  };
}

/** The history of a catalog resource, or of a catalog type: the one shipped version of each. */
export function catalogHistory(type: string, id: string | undefined, fhirBase: string): Bundle {
  loadFhirDefinitions();
  if (id && !catalogRead(type, id)) throw notFound(`${type}/${id}`);
  const resources = id ? [catalogRead(type, id) as Resource] : catalogList(type);
  return {
    resourceType: 'Bundle',
    type: 'history',
    total: resources.length,
    entry: resources.map((resource) => ({
      fullUrl: `${fhirBase}/${type}/${resource.id}`,
      resource: present(resource),
      request: { method: 'POST', url: type },
      response: { status: '201', etag: 'W/"1"', lastModified: lastUpdatedOf(resource).toISOString() },
    })),
  };
}

/** The answer to any write of a catalog type: 405, with where the definitions live. */
export function catalogWriteRefused(type: string): never {
  throw methodNotAllowed(
    `${type} here is the service's own terminology (fhir-profiles/), shipped with the service: it can be read, searched and expanded, not created, changed or deleted`,
  );
}

function present(resource: Resource): Resource {
  return { ...resource, meta: { versionId: '1', lastUpdated: lastUpdatedOf(resource).toISOString() } };
}

/** A catalog resource changes only with a release of the service: its `date` stands for when it was last updated. */
function lastUpdatedOf(resource: Resource): Date {
  const date = (resource as { date?: string }).date;
  return new Date(date ? `${date.slice(0, 10)}T00:00:00Z` : '2026-01-01T00:00:00Z');
}
