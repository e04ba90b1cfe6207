/**
 * ValueSet/$expand for the service's own ValueSets (fhir-profiles/): the codes a portal form offers, by `url` at
 * type level or by id at instance level, optionally narrowed by `filter` (text in the code or its display).
 */
import type { ValueSet } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '../definitions';
import { badRequest, notFound } from '../outcomes';
import { catalogRead, catalogValueSet, expandCatalogValueSet } from '../terminology-catalog';
import type { FhirOperation, OperationContext, OperationResult } from './operation';

const KNOWN_PARAMS = new Set(['url', 'filter', 'valueSetVersion', '_format']);

/** The expansion of a catalog ValueSet, with every code listed (the service's sets are short). */
function expand({ id, params }: OperationContext): OperationResult {
  loadFhirDefinitions();
  for (const name of Object.keys(params))
    if (!KNOWN_PARAMS.has(name)) throw badRequest(`$expand takes url and filter; ${name} is not offered`, name);
  const filter = params.filter;
  if (filter !== undefined && filter.length > 100) throw badRequest('filter is at most 100 characters', 'filter');
  let valueSet: ValueSet | undefined;
  if (id) {
    valueSet = catalogRead('ValueSet', id) as ValueSet | undefined;
    if (!valueSet) throw notFound(`ValueSet/${id}`);
  } else {
    if (!params.url) throw badRequest('ValueSet/$expand needs the url of the ValueSet to expand (or run it on ValueSet/{id})', 'url');
    valueSet = catalogValueSet(params.url);
    if (!valueSet) throw notFound(`ValueSet ${params.url.slice(0, 200)} (this service expands its own ValueSets only)`);
  }
  const contains = expandCatalogValueSet(valueSet, filter);
  const expanded: ValueSet = {
    ...valueSet,
    expansion: {
      timestamp: `${valueSet.date ?? '2026-01-01'}T00:00:00Z`,
      total: contains.length,
      ...(filter !== undefined ? { parameter: [{ name: 'filter', valueString: filter }] } : {}),
      contains,
    },
  };
  return { kind: 'resource', resource: expanded };
}

/** ValueSet/$expand at type level (url=...). */
export const valueSetExpandOperation: FhirOperation = {
  info: { name: 'expand', resourceType: 'ValueSet', definition: 'http://hl7.org/fhir/OperationDefinition/ValueSet-expand' },
  level: 'type',
  methods: ['GET', 'POST'],
  handle: (context) => Promise.resolve(expand(context)),
};

/** ValueSet/{id}/$expand. */
export const valueSetInstanceExpandOperation: FhirOperation = { ...valueSetExpandOperation, level: 'instance' };
