/**
 * The service's own terminology: the ValueSets and CodeSystems in fhir-profiles/ (message subjects, appointment
 * request reasons, request types and statuses), which portal forms list. They are definitions shipped with the
 * service, not data: read and searched by any signed-in caller, expanded by `ValueSet/$expand`, never written
 * through the API (a change is a new release of fhir-profiles/).
 */
import type { CodeSystem, CodeSystemConcept, ValueSet, ValueSetExpansionContains } from '@medplum/fhirtypes';

/** The resource types the catalog serves. */
export const CATALOG_TYPES: ReadonlySet<string> = new Set(['ValueSet', 'CodeSystem']);

type CatalogResource = ValueSet | CodeSystem;

const byTypeAndId = new Map<string, CatalogResource>();
const byUrl = new Map<string, CatalogResource>();
const fileOf = new Map<string, string>();

/** Adds one file of fhir-profiles/ to the catalog (at boot, by loadFhirDefinitions). */
export function addToCatalog(file: string, resource: CatalogResource): void {
  if (!resource.id || !resource.url) throw new Error(`fhir-profiles/${file}: a ${resource.resourceType} needs an id and a url`);
  const key = `${resource.resourceType}/${resource.id}`;
  // A load that stopped at a bad file runs again from the start: the same file may add its resource again.
  const other = fileOf.get(key);
  if (other && other !== file) throw new Error(`fhir-profiles/${file}: ${key} is defined in ${other} too`);
  fileOf.set(key, file);
  byTypeAndId.set(key, Object.freeze(resource));
  byUrl.set(`${resource.resourceType}|${resource.url}`, resource);
}

/** One catalog resource by type and id. */
export function catalogRead(type: string, id: string): CatalogResource | undefined {
  return byTypeAndId.get(`${type}/${id}`);
}

/** Every catalog resource of a type, in id order. */
export function catalogList(type: string): CatalogResource[] {
  return [...byTypeAndId.values()].filter((r) => r.resourceType === type).sort((a, b) => (a.id as string).localeCompare(b.id as string));
}

/** A ValueSet of the catalog by canonical URL (a `|version` suffix is ignored). */
export function catalogValueSet(url: string): ValueSet | undefined {
  return byUrl.get(`ValueSet|${url.split('|')[0]}`) as ValueSet | undefined;
}

/** A CodeSystem of the catalog by canonical URL. */
export function catalogCodeSystem(url: string): CodeSystem | undefined {
  return byUrl.get(`CodeSystem|${url.split('|')[0]}`) as CodeSystem | undefined;
}

/** The codes of a catalog ValueSet: listed concepts, or every concept of a catalog CodeSystem it includes whole. */
export function expandCatalogValueSet(valueSet: ValueSet, filter?: string): ValueSetExpansionContains[] {
  const contains: ValueSetExpansionContains[] = [];
  for (const include of valueSet.compose?.include ?? []) {
    if (!include.system) continue;
    const concepts: CodeSystemConcept[] = include.concept?.length
      ? include.concept
      : flatten(catalogCodeSystem(include.system)?.concept ?? []);
    for (const concept of concepts) contains.push({ system: include.system, code: concept.code, display: concept.display });
  }
  const text = filter?.trim().toLowerCase();
  return text ? contains.filter((c) => c.code?.toLowerCase().includes(text) || c.display?.toLowerCase().includes(text)) : contains;
}

/** The display of a code in a catalog CodeSystem, or undefined when the code is not in it. */
export function catalogDisplay(system: string, code: string): string | undefined {
  return flatten(catalogCodeSystem(system)?.concept ?? []).find((c) => c.code === code)?.display;
}

function flatten(concepts: readonly CodeSystemConcept[]): CodeSystemConcept[] {
  return concepts.flatMap((c) => [c, ...flatten(c.concept ?? [])]);
}
