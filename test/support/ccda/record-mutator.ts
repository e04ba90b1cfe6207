import type { Resource } from '@medplum/fhirtypes';

/**
 * Deterministically damages a record the way real stored data is damaged: fields dropped (even required
 * ones), list items missing, stray markup and control characters appended to strings. Used by tests to show the
 * renderer never throws and never writes an invalid document, whatever it is given.
 */
export function mutateRecord<T extends Resource>(resources: readonly T[], seed: number, dropRate = 0.2): T[] {
  let state = seed >>> 0 || 1;
  const rand = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state & 0x7fffffff) / 0x7fffffff;
  };
  const mutate = (v: unknown, depth: number): unknown => {
    if (Array.isArray(v)) return v.filter(() => rand() > dropRate * 0.75).map((x) => mutate(x, depth + 1));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === 'resourceType' || (depth === 0 && k === 'id')) out[k] = x;
        else if (rand() >= dropRate) out[k] = mutate(x, depth + 1);
      }
      return out;
    }
    if (typeof v === 'string' && rand() < 0.03) return `${v} <&>"\u0001`;
    return v;
  };
  return resources.map((r) => mutate(r, 0) as T);
}
