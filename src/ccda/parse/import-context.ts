import { createHash } from 'node:crypto';
import type { Identifier, Patient, Reference, Resource } from '@medplum/fhirtypes';
import type { CcdaImportEntry, CcdaSectionStats, CcdaWarning } from './ccda-import-types';
import type { DatatypeContext } from './cda-datatype-readers';
import { NarrativeIndex } from './narrative';

/** A reference to any resource of the import (FHIR's typed references add nothing here). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRef = Reference<any>;

/** System of the identifier given to an entry that has no usable CDA id: document id + position. */
export const CCDA_POSITION_SYSTEM = 'urn:chartkeeper:ccda-entry-position';

/**
 * The state of one import: resources made so far (with their urn:uuid fullUrls), the section
 * being mapped, identifiers already claimed, narrative lookups and warnings.
 */
export class ImportContext implements DatatypeContext {
  readonly resources: { fullUrl: string; resource: Resource }[] = [];
  readonly warnings: CcdaWarning[] = [];
  readonly narrative = new NarrativeIndex();
  patientReference: Reference<Patient> = {};
  /** The document's effectiveTime, for resources that need a date and have none of their own. */
  documentDate: string | undefined;
  /** The section being mapped, its resources, and the position of the entry within it. */
  section: CcdaSectionStats | undefined;
  sectionRefs: AnyRef[] = [];
  entryPosition = '';
  /** The plain text of the section being mapped (for entries that point at no narrative of their own). */
  sectionText: string | undefined;
  private readonly seenWarnings = new Set<string>();
  private readonly claimed = new Set<string>();
  private readonly shared = new Map<string, Reference>();
  private counter = 0;
  private uuidPrefix = '';

  constructor(private readonly documentKey: string) {}

  /** Adds a resource to the result; counts it for the current section; returns its reference. */
  add<T extends Resource>(resource: T): Reference<T> {
    const fullUrl = this.nextUuid();
    this.resources.push({ fullUrl, resource });
    const ref: Reference<T> = { reference: fullUrl };
    if (this.section) {
      this.section.resourcesCreated++;
      this.sectionRefs.push(ref);
    }
    return ref;
  }

  /**
   * A resource shared across the document (Practitioner, Organization, Device, Medication) by a
   * dedupe key: made once, referenced many times, not counted as a section's clinical output.
   */
  addShared<T extends Resource>(key: string, make: () => T | undefined): Reference<T> | undefined {
    // A key starts with its resource type (dedupeKey), so the reference it found is to a T.
    const known = this.shared.get(key) as Reference<T> | undefined;
    if (known) return known;
    const resource = make();
    if (!resource) return undefined;
    const fullUrl = this.nextUuid();
    this.resources.push({ fullUrl, resource });
    const ref: Reference<T> = { reference: fullUrl };
    this.shared.set(key, ref);
    return ref;
  }

  /**
   * The identifiers a clinical resource gets from its entry's ids. An id already given to another
   * resource of the same type in this document (vendors reuse ids across different entries) is
   * qualified with the entry position, so the two resources stay distinct, and a warning says so.
   * With no usable id, the resource gets a position identifier under the document id.
   */
  claimIdentifiers(resourceType: string, ids: Identifier[]): Identifier[] {
    if (ids.length === 0) {
      // Several resources can come from one entry (organizer members): each gets its own value.
      return [
        {
          system: CCDA_POSITION_SYSTEM,
          value: this.unclaimed(resourceType, CCDA_POSITION_SYSTEM, `${this.documentKey}/${this.entryPosition}`),
        },
      ];
    }
    const out: Identifier[] = [];
    for (const id of ids) {
      const key = `${resourceType}|${id.system}|${id.value}`;
      if (!this.claimed.has(key)) {
        this.claimed.add(key);
        out.push(id);
        continue;
      }
      const qualified = { system: id.system, value: this.unclaimed(resourceType, id.system, `${id.value}#${this.entryPosition}`) };
      out.push(qualified);
      this.warn(`id ${id.value} (${id.system}) is used by more than one ${resourceType}; kept distinct as ${qualified.value}`);
    }
    return out;
  }

  /** `base`, or `base.2`, `base.3`... : the first value not yet claimed for this type and system (then claimed). */
  private unclaimed(resourceType: string, system: string | undefined, base: string): string {
    let value = base;
    for (let n = 2; this.claimed.has(`${resourceType}|${system}|${value}`); n++) value = `${base}.${n}`;
    this.claimed.add(`${resourceType}|${system}|${value}`);
    return value;
  }

  /**
   * Turns the logical encounter links organizers carry (`encounter.identifier`) into references to the document's own
   * Encounter with that id, when it has one; otherwise they stay logical (the visit is in another document).
   */
  resolveEncounterLinks(): void {
    const byId = new Map<string, string>();
    for (const { fullUrl, resource } of this.resources) {
      if (resource.resourceType !== 'Encounter') continue;
      for (const id of resource.identifier ?? []) byId.set(`${id.system}|${id.value}`, fullUrl);
    }
    for (const { resource } of this.resources) {
      const holder = resource as { encounter?: Reference };
      const id = holder.encounter?.identifier;
      if (!id || holder.encounter?.reference) continue;
      const fullUrl = byId.get(`${id.system}|${id.value}`);
      if (fullUrl) holder.encounter = { reference: fullUrl };
    }
  }

  /** DatatypeContext: the entry being mapped, for warnings about one of its values. */
  where(): string | undefined {
    return this.section && this.entryPosition ? `entry ${this.entryPosition}` : undefined;
  }

  /** DatatypeContext: narrative text for an `#ID` reference. */
  lookupNarrative(reference: string | undefined): string | undefined {
    return this.narrative.lookup(reference);
  }

  /** Records a warning once (identical messages are kept once per document). */
  warn(message: string): void {
    const section = this.section ? (this.section.loinc ?? this.section.title ?? `#${this.section.index}`) : undefined;
    const key = `${section}|${message}`;
    if (this.seenWarnings.has(key)) return;
    this.seenWarnings.add(key);
    this.warnings.push(section ? { message, section } : { message });
  }

  /** The transaction entries, each with its request (see CcdaImportResult.bundle). */
  entries(): CcdaImportEntry[] {
    return this.resources.map(({ fullUrl, resource }) => ({ fullUrl, resource, request: requestFor(resource) }));
  }

  /**
   * Deterministic urn:uuid: the same document always maps to the same fullUrls. One SHA-1 of the
   * document key per document; resources are numbered within it (the fullUrls only need to be
   * unique inside the transaction, and stable for golden tests).
   */
  private nextUuid(): string {
    if (!this.uuidPrefix) {
      const h = createHash('sha1').update(this.documentKey).digest('hex');
      this.uuidPrefix = `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 24)}`;
    }
    return `${this.uuidPrefix}${(this.counter++).toString(16).padStart(8, '0')}`;
  }
}

const MATCH_ONLY = new Set(['Patient', 'Practitioner', 'Organization', 'Device', 'Medication', 'Location']);

function requestFor(resource: Resource): CcdaImportEntry['request'] {
  const id = (resource as { identifier?: Identifier | Identifier[] }).identifier;
  const first = Array.isArray(id) ? id[0] : id;
  if (!first?.value) return { method: 'POST', url: resource.resourceType };
  const search = `identifier=${first.system ? `${encodeURIComponent(first.system)}|` : ''}${encodeURIComponent(first.value)}`;
  if (MATCH_ONLY.has(resource.resourceType))
    return { method: 'POST', url: resource.resourceType, ifNoneExist: search + nameGuard(resource) };
  return { method: 'PUT', url: `${resource.resourceType}?${search}` };
}

/**
 * An identifier joins two practitioners only when their family names agree too: an id that slipped past the
 * placeholder rules (a clinic's shared number, a typo) must not merge different doctors into one.
 */
function nameGuard(resource: Resource): string {
  if (resource.resourceType !== 'Practitioner') return '';
  const family = resource.name?.find((n) => n.family)?.family;
  return family ? `&family:exact=${encodeURIComponent(family)}` : '';
}
