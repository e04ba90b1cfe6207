/**
 * US Core 6.1.0 (the version ONC's HTI-1 names with USCDI v3): its profiles' StructureDefinitions, shipped in
 * fhir-profiles/us-core-6.1.0/ (copied from the published package, narratives and mappings left out). A resource
 * whose `meta.profile` claims one is validated against it on write (validation.ts); a resource claiming none is
 * held to R4 and fhir-profiles/ only. Bindings to value sets outside the package (VSAC) are not enforced.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Resource, StructureDefinition } from '@medplum/fhirtypes';
import { projectRoot } from '../project-root';

/** The package version whose profiles are shipped; a claim naming another version is not checked. */
export const US_CORE_VERSION = '6.1.0';
const US_CORE_BASE = 'http://hl7.org/fhir/us/core/StructureDefinition/';

let profiles: ReadonlyMap<string, StructureDefinition> | undefined;
/** The profiles forValidator left whole: validating against one of them checks everything the R4 base checks. */
const whole = new Set<string>();

/** Every shipped US Core profile (derivation constraint on a resource), by canonical URL. */
export function usCoreProfiles(): ReadonlyMap<string, StructureDefinition> {
  if (profiles) return profiles;
  const dir = path.join(projectRoot(), 'fhir-profiles', `us-core-${US_CORE_VERSION}`);
  const out = new Map<string, StructureDefinition>();
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('StructureDefinition-') && f.endsWith('.json'))
    .sort()) {
    const definition = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as StructureDefinition;
    if (definition.kind !== 'resource' || definition.derivation !== 'constraint' || !definition.url) continue;
    const readable = forValidator(definition);
    if (readable === definition) whole.add(definition.url);
    out.set(definition.url, readable);
  }
  profiles = out;
  return out;
}

/**
 * Whether validating against this profile checks everything validating against the R4 base does: its snapshot holds
 * every element of the type (a profile only constrains), unless forValidator had to leave an element to the base.
 */
export function coversBaseDefinition(profile: StructureDefinition): boolean {
  usCoreProfiles();
  return profile.url !== undefined && whole.has(profile.url);
}

/** The US Core profiles of `type`, as the CapabilityStatement lists them in supportedProfile. */
export function usCoreProfilesOf(type: string): string[] {
  return [...usCoreProfiles().values()].filter((p) => p.type === type).map((p) => p.url);
}

/** A US Core profile a resource claims, and whether its type is the profile's. */
export interface UsCoreClaim {
  readonly url: string;
  readonly profile: StructureDefinition;
}

/** The shipped US Core profiles `resource` claims in meta.profile (unversioned, or |6.1.0). */
export function usCoreClaimsOf(resource: Resource): UsCoreClaim[] {
  const out: UsCoreClaim[] = [];
  for (const claim of resource.meta?.profile ?? []) {
    if (typeof claim !== 'string' || !claim.startsWith(US_CORE_BASE)) continue;
    const [url, version] = claim.split('|');
    if (version !== undefined && version !== US_CORE_VERSION) continue;
    const profile = usCoreProfiles().get(url);
    if (profile) out.push({ url, profile });
  }
  return out;
}

/**
 * The definition as @medplum/core's validator can read it. An element that reuses a sliced element's definition by
 * `contentReference` (US Core Provenance's `entity.agent` -> the sliced `agent`) makes its schema parser fail; such an
 * element is left to the R4 base definition, which every resource is also validated against.
 */
function forValidator(definition: StructureDefinition): StructureDefinition {
  const elements = definition.snapshot?.element ?? [];
  const sliced = new Set(elements.filter((e) => e.slicing).map((e) => e.path));
  if (!elements.some((e) => e.contentReference && sliced.has(e.contentReference.split('#')[1]))) return definition;
  const element = elements.map((e) => {
    if (!e.contentReference || !sliced.has(e.contentReference.split('#')[1])) return e;
    const { contentReference: _reused, ...rest } = e;
    return { ...rest, type: [{ code: 'BackboneElement' }] };
  });
  return { ...definition, snapshot: { ...definition.snapshot, element } };
}
