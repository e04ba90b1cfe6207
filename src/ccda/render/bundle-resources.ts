import type { Bundle, Resource } from '@medplum/fhirtypes';

/**
 * The resources of a transaction/collection Bundle as a server would store them: every
 * `urn:uuid:` reference (to an entry's fullUrl) rewritten to "Type/id". Entries without an id get
 * the uuid of their fullUrl. Used to feed Synthea bundles to the renderer in tests and the bench.
 */
export function resourcesFromBundle(bundle: Bundle): Resource[] {
  const targets = new Map<string, string>();
  const resources: Resource[] = [];
  for (const entry of bundle.entry ?? []) {
    if (!entry.resource) continue;
    const r = { ...entry.resource };
    if (!r.id && entry.fullUrl?.startsWith('urn:uuid:')) r.id = entry.fullUrl.slice(9);
    if (entry.fullUrl) targets.set(entry.fullUrl, `${r.resourceType}/${r.id}`);
    resources.push(r);
  }
  return resources.map((r) => rewrite(r, targets) as Resource);
}

function rewrite(value: unknown, targets: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewrite(v, targets));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === 'reference' && typeof v === 'string' ? (targets.get(v) ?? v) : rewrite(v, targets);
    }
    return out;
  }
  return value;
}
