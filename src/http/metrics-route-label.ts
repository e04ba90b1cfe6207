import { isResourceType } from '@medplum/core';

/**
 * The route a request took, as a metrics label: resource types and operation names kept, ids and versions
 * replaced by placeholders, so the number of series stays bounded however many resources there are. Names a
 * client makes up (an unknown type, an operation that answered 404, a path nothing serves) collapse into one
 * placeholder each, so a scan of random URLs cannot grow the series either.
 */
export function routeLabel(path: string, status: number): string {
  const segments = path.split('/').filter(Boolean);
  const [root, ...rest] = segments;
  if (root === undefined) return '/';
  if (root === 'fhir') return `/fhir${fhirRoute(rest, status)}`;
  if (root === 'auth') return status === 404 || rest.length > 3 || !rest.every(isWord) ? '/auth/:unknown' : `/${segments.join('/')}`;
  if (segments.length === 1 && ['healthz', 'readyz', 'metrics'].includes(root)) return `/${root}`;
  return ':unmatched';
}

const isWord = (segment: string): boolean => /^[a-z-]{1,40}$/.test(segment);
const isOperation = (segment: string): boolean => /^\$[a-z][a-z-]{0,40}$/.test(segment);

function fhirRoute(rest: string[], status: number): string {
  const [type, id, third, fourth] = rest;
  if (type === undefined) return '';
  const known = (segment: string): string => (isOperation(segment) && status !== 404 ? segment : ':operation');
  if (rest.length === 1 && (type === 'metadata' || type === '_history')) return `/${type}`;
  if (rest.length === 1 && type.startsWith('$')) return `/${known(type)}`;
  if (type === 'bulk-export')
    return rest.length === 2 ? '/bulk-export/:id' : rest.length === 3 ? '/bulk-export/:id/:file' : '/bulk-export/:unknown';
  const typeLabel = /^[A-Z][A-Za-z]{1,60}$/.test(type) && isResourceType(type) ? type : ':type';
  if (id === undefined) return `/${typeLabel}`;
  if (rest.length === 2 && (id === '_search' || id === '_history')) return `/${typeLabel}/${id}`;
  if (rest.length === 2 && id.startsWith('$')) return `/${typeLabel}/${known(id)}`;
  if (rest.length === 2) return `/${typeLabel}/:id`;
  if (third === '_history')
    return rest.length === 3
      ? `/${typeLabel}/:id/_history`
      : rest.length === 4
        ? `/${typeLabel}/:id/_history/:version`
        : `/${typeLabel}/:unknown`;
  if (rest.length === 3 && third.startsWith('$')) return `/${typeLabel}/:id/${known(third)}`;
  return fourth === undefined && third === undefined ? `/${typeLabel}/:id` : `/${typeLabel}/:unknown`;
}
