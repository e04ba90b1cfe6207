import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

/**
 * fhir-profiles/ holds profiles as people write them: a differential against an R4 base type.
 * @medplum/core's validator reads only snapshots, so we derive the snapshot at boot for the simple
 * constraints Chartkeeper uses (tighter cardinality, invariants, bindings, maxLength, fixed and
 * pattern values). Slicing needs a real snapshot generator: such a profile must ship its snapshot.
 */

/** The profile with a snapshot: its own if it has one, else the base snapshot with the differential applied. */
export function withSnapshot(profile: StructureDefinition, base: StructureDefinition | undefined): StructureDefinition {
  if (profile.snapshot?.element?.length) return profile;
  const name = profile.url ?? profile.id ?? profile.name;
  if (!base?.snapshot?.element?.length) {
    throw new Error(`Profile ${name}: base definition ${profile.baseDefinition} is not an R4 type with a snapshot`);
  }
  const elements = base.snapshot.element.map((element) => ({ ...element }));
  const byPath = new Map(elements.map((element, i) => [element.path, i]));
  for (const diff of profile.differential?.element ?? []) {
    if (diff.sliceName || diff.slicing) {
      throw new Error(`Profile ${name}: ${diff.id ?? diff.path} slices; slicing profiles must include their snapshot`);
    }
    const index = byPath.get(diff.path);
    if (index === undefined) throw new Error(`Profile ${name}: ${diff.path} is not an element of ${base.type}`);
    elements[index] = merge(elements[index], diff);
  }
  return { ...profile, snapshot: { element: elements } };
}

/** Differential values replace the base's, except invariants, which add to the base's. */
function merge(base: ElementDefinition, diff: ElementDefinition): ElementDefinition {
  const merged: ElementDefinition = { ...base, ...diff, id: base.id, path: base.path };
  if (diff.constraint?.length) merged.constraint = [...(base.constraint ?? []), ...diff.constraint];
  return merged;
}
