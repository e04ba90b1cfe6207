import type { BundleEntryRequest } from '@medplum/fhirtypes';
import { isSupportedType } from './definitions';
import { badRequest, type FhirError, methodNotAllowed } from './outcomes';

/**
 * What a Bundle entry's request asks for, read from its method and URL with the rules of a direct request to
 * /fhir (src/http/fhir-router.ts): the same interactions are offered, and everything else is refused with the
 * status the direct request would get (400 for a URL that is not one, 405 for an interaction not offered), as
 * that entry's answer. Before, the URL was split on "/" and the parts taken on trust: `Patient/{id}/$everything`
 * read as a search of every Patient, `DELETE Observation/{id}/_history/1` deleted the resource.
 */
export type EntryTarget =
  | { readonly kind: 'read'; readonly type: string; readonly id: string }
  | { readonly kind: 'vread'; readonly type: string; readonly id: string; readonly version: string }
  | { readonly kind: 'search'; readonly type: string; readonly query: string }
  | { readonly kind: 'history'; readonly type: string; readonly id?: string; readonly query: string }
  | { readonly kind: 'create'; readonly type: string }
  | { readonly kind: 'update'; readonly type: string; readonly id: string }
  | { readonly kind: 'conditional-update'; readonly type: string; readonly query: string }
  | { readonly kind: 'delete'; readonly type: string; readonly id: string };

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const VERSION = /^[1-9]\d{0,8}$/;

/**
 * Reads one entry's request (`where` names it in messages: `Bundle.entry[3].request`). `fhirBase` lets an absolute
 * URL of this server through; any other absolute URL is refused.
 */
export function parseEntryRequest(request: BundleEntryRequest | undefined, fhirBase: string, where: string): EntryTarget {
  const method = request?.method;
  const url = request?.url;
  if (typeof method !== 'string' || !['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH'].includes(method)) {
    throw badRequest(`${where}.method must be GET, POST, PUT or DELETE`, `${where}.method`);
  }
  if (method === 'PATCH') throw methodNotAllowed(`${where}: PATCH is not supported: PUT the whole resource`);
  if (method === 'HEAD') throw methodNotAllowed(`${where}: HEAD is not supported in a Bundle: use GET`);
  if (typeof url !== 'string' || !url) throw badRequest(`${where}.url is missing`, `${where}.url`);
  const relative = url.startsWith(`${fhirBase}/`) ? url.slice(fhirBase.length + 1) : url;
  if (/^[a-z][a-z0-9+.-]*:/i.test(relative))
    throw badRequest(`${where}.url must be relative to this server (Type, Type/id...), got "${url}"`, `${where}.url`);
  const at = relative.indexOf('?');
  const path = at < 0 ? relative : relative.slice(0, at);
  const query = at < 0 ? undefined : relative.slice(at + 1);
  const segments = path.replace(/^\//, '').split('/');
  const bad = (why: string): FhirError => badRequest(`${where}.url "${url}" ${why}`, `${where}.url`);
  const [type, id, third, fourth] = segments;
  if (!type || !isSupportedType(type)) throw bad(`does not name a supported resource type`);
  if (segments.some((s, i) => i > 0 && s.startsWith('$')) || type.startsWith('$')) {
    throw methodNotAllowed(`${where}: operations ($...) are not supported inside a Bundle; call them directly`);
  }
  if (segments.length > 4 || segments.some((s) => s === '' || s === '.' || s === '..')) throw bad('is not a FHIR interaction URL');
  if (id !== undefined && id !== '_history' && id !== '_search' && !ID.test(id)) throw bad(`has an id that is not one ("${id}")`);

  switch (method) {
    case 'GET':
      if (segments.length === 1) return { kind: 'search', type, query: query ?? '' };
      if (segments.length === 2 && id === '_history') return { kind: 'history', type, query: query ?? '' };
      if (segments.length === 2 && id !== '_search') return noQuery({ kind: 'read', type, id }, query, bad);
      if (segments.length === 3 && third === '_history') return { kind: 'history', type, id, query: query ?? '' };
      if (segments.length === 4 && third === '_history') {
        if (!VERSION.test(fourth)) throw bad(`has a version id that is not one ("${fourth}")`);
        return noQuery({ kind: 'vread', type, id, version: fourth }, query, bad);
      }
      throw bad('is not a read, version read, search or history URL');
    case 'POST':
      if (segments.length === 2 && id === '_search')
        throw methodNotAllowed(`${where}: POST _search is not supported inside a Bundle: use GET ${type}?...`);
      if (segments.length !== 1)
        throw methodNotAllowed(`${where}: POST creates a resource: its URL is the type alone ("${type}"), not "${url}"`);
      if (query !== undefined) throw bad('has a query: a conditional create names its condition in request.ifNoneExist');
      return { kind: 'create', type };
    case 'PUT':
      if (segments.length === 1 && query !== undefined && query !== '') return { kind: 'conditional-update', type, query };
      if (segments.length === 2 && id !== '_history' && id !== '_search') return noQuery({ kind: 'update', type, id }, query, bad);
      throw methodNotAllowed(`${where}: PUT updates a resource by its URL, Type/id (or Type?search): not "${url}"`);
    default: // DELETE
      if (segments.length === 1)
        throw methodNotAllowed(`${where}: Conditional delete is not supported: search, then DELETE each resource by its id`);
      if (segments.length === 2 && id !== '_history' && id !== '_search') return noQuery({ kind: 'delete', type, id }, query, bad);
      throw methodNotAllowed(`${where}: DELETE removes a resource by its URL, Type/id: not "${url}"`);
  }
}

function noQuery<T extends EntryTarget>(target: T, query: string | undefined, bad: (why: string) => FhirError): T {
  if (query !== undefined && query !== '') throw bad('has a query, which this interaction does not take');
  return target;
}
