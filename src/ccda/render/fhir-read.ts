import type { CodeableConcept, Observation, Period, Resource } from '@medplum/fhirtypes';

/** The codes of a resource's `category` (CodeableConcept or list), whatever the system. */
export function categoryCodes(categories: CodeableConcept | readonly CodeableConcept[] | undefined): string[] {
  if (!categories) return [];
  const list = ([] as CodeableConcept[]).concat(categories);
  const out: string[] = [];
  for (const c of list) for (const coding of c.coding ?? []) if (coding.code) out.push(coding.code);
  return out;
}

/** The first code of a concept in a given system. */
export function codeIn(cc: CodeableConcept | undefined, system: string): string | undefined {
  return cc?.coding?.find((c) => c.system === system)?.code;
}

/** True when any coding of the concept has one of the codes (any system). */
export function hasCode(cc: CodeableConcept | undefined, codes: readonly string[]): boolean {
  return (cc?.coding ?? []).some((c) => c.code !== undefined && codes.includes(c.code));
}

/** An observation's time: effectiveDateTime/Instant, else effectivePeriod, else issued. */
export function observationTime(o: Observation): { start?: string; end?: string } {
  if (o.effectiveDateTime) return { start: o.effectiveDateTime };
  if (o.effectiveInstant) return { start: o.effectiveInstant };
  if (o.effectivePeriod) return { start: o.effectivePeriod.start, end: o.effectivePeriod.end };
  if (o.issued) return { start: o.issued };
  return {};
}

/** A period's start/end, tolerating its absence. */
export function periodBounds(p: Period | undefined): { start?: string; end?: string } {
  return { start: p?.start, end: p?.end };
}

/** Records marked as entered in error never appear in a document. */
export function isEnteredInError(r: Resource): boolean {
  const anyR = r as { status?: string; verificationStatus?: CodeableConcept };
  if (anyR.status === 'entered-in-error') return true;
  return hasCode(anyR.verificationStatus, ['entered-in-error']);
}

/** Sorts by a date string, newest first (undated last); stable for equal dates. */
export function newestFirst<T>(items: readonly T[], dateOf: (t: T) => string | undefined): T[] {
  return items
    .map((item, i) => ({ item, i, d: dateOf(item) ?? '' }))
    .sort((a, b) => (a.d === b.d ? a.i - b.i : a.d < b.d ? 1 : -1))
    .map((x) => x.item);
}
