import type { Resource } from '@medplum/fhirtypes';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** Applies `_elements` and `_summary=data|text` to a resource on its way out, marking it SUBSETTED. */
export function shapeResource(resource: Resource, options: { elements?: string[]; summary?: string }): Resource {
  const { elements, summary } = options;
  if (elements?.length) {
    const keep = new Set(['resourceType', 'id', 'meta', ...elements]);
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(resource)) if (keep.has(key)) out[key] = value;
    return markSubsetted(out as unknown as Resource);
  }
  if (summary === 'data') {
    const { text: _text, ...rest } = resource as Resource & { text?: unknown };
    return markSubsetted(rest);
  }
  return resource;
}

function markSubsetted(resource: Resource): Resource {
  const meta = resource.meta ?? {};
  return { ...resource, meta: { ...meta, tag: [...(meta.tag ?? []), SUBSETTED] } };
}
