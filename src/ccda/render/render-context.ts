import type { Patient, Practitioner, Reference, Resource } from '@medplum/fhirtypes';
import { hl7Now } from './hl7-time';

/**
 * Chartkeeper's default root for instance identifiers it mints: a UUID-derived OID under 2.25
 * (ITU-T X.667), so no registration is needed. `<id root=ROOT extension="Type/id"/>` names the FHIR
 * resource an entry came from, which is what the C-CDA parser reads back.
 */
export const DEFAULT_ID_ROOT = '2.25.299190837271352781203592934468383640862';

/** Finds resources by the references that point at them ("Type/id", absolute URLs, "urn:uuid:id"). */
export class ResourceLookup {
  private readonly byKey = new Map<string, Resource>();
  private readonly byId = new Map<string, Resource>();

  constructor(resources: readonly Resource[]) {
    for (const r of resources) {
      if (!r.id) continue;
      this.byKey.set(`${r.resourceType}/${r.id}`, r);
      if (!this.byId.has(r.id)) this.byId.set(r.id, r);
    }
  }

  /** The resource a reference points at, or undefined when it is not in the set. */
  resolve<T extends Resource = Resource>(ref: Reference | undefined): T | undefined {
    const s = ref?.reference;
    if (!s) return undefined;
    if (s.startsWith('urn:uuid:')) return this.byId.get(s.slice(9)) as T | undefined;
    if (s.startsWith('#')) return undefined;
    const parts = s.split('/');
    const hist = parts.indexOf('_history');
    const tail = hist > 0 ? parts.slice(0, hist) : parts;
    if (tail.length < 2) return this.byId.get(s) as T | undefined;
    return this.byKey.get(`${tail[tail.length - 2]}/${tail[tail.length - 1]}`) as T | undefined;
  }

  /** The Practitioner a reference names, directly or through a PractitionerRole. */
  practitioner(ref: Reference | undefined): Practitioner | undefined {
    const r = this.resolve(ref);
    if (r?.resourceType === 'Practitioner') return r;
    if (r?.resourceType === 'PractitionerRole') {
      const p = this.resolve(r.practitioner);
      return p?.resourceType === 'Practitioner' ? p : undefined;
    }
    return undefined;
  }
}

/** Everything an entry writer needs besides the resource itself. */
export class RenderContext {
  /** The document's effectiveTime (HL7 TS), reused where a time is required and the data has none. */
  readonly nowTs: string;
  private idCounter = 0;

  constructor(
    readonly patient: Patient,
    readonly lookup: ResourceLookup,
    readonly now: Date,
    readonly idRoot: string = DEFAULT_ID_ROOT,
  ) {
    this.nowTs = hl7Now(now);
  }

  /** A document-unique extension for things that have no resource of their own (organizers, concerns). */
  nextLocalId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}-${this.idCounter}`;
  }
}
