import type { BundleEntry, Identifier, OperationOutcome } from '@medplum/fhirtypes';
import { LONE_SURROGATE } from '../../fhir/input-limits';

/**
 * One value of a document that the store refused (an impossible date, a malformed code or unit the parser let
 * through), found from the refusal's location (`Bundle.entry[31].resource.Observation.effective[x].end`), and
 * taken out of the import: a date is reduced to its month (what the sender knew for certain), anything else is
 * dropped. The rest of the document is imported; the warning names the entry and the value.
 */
export interface UnstorableValue {
  /** The fullUrl of the entry (as sent) that holds the value. */
  readonly fullUrl: string;
  /** The path inside the resource (`Observation.effective[x].end`). */
  readonly path: string;
  readonly message: string;
}

const LOCATION = /^Bundle\.entry\[(\d+)\]\.resource\.([A-Za-z]+(?:\.[A-Za-z]+(?:\[(?:\d+|x)\])?)+)$/;

/** The refused value a 400 from the store points at, when it points into one of the sent entries. */
export function unstorableValueOf(outcome: OperationOutcome | undefined, sent: readonly BundleEntry[]): UnstorableValue | undefined {
  for (const issue of outcome?.issue ?? []) {
    if (issue.severity !== 'error' && issue.severity !== 'fatal') continue;
    // A character reference to a surrogate is no XML character at all: the document is malformed, not one value.
    if (issue.details?.text === LONE_SURROGATE) return undefined;
    for (const expression of issue.expression ?? []) {
      const m = LOCATION.exec(expression);
      const entry = m ? sent[Number(m[1])] : undefined;
      if (m && entry?.fullUrl)
        return { fullUrl: entry.fullUrl, path: m[2], message: issue.details?.text ?? issue.diagnostics ?? 'refused' };
    }
  }
  return undefined;
}

type Json = Record<string, unknown>;

/** The property of `holder` a path step names: `name`, `name[x]` (a choice: valueQuantity...), `name[3]`. */
function step(holder: Json, segment: string): { key: string; index?: number } | undefined {
  const m = /^([A-Za-z]+)(?:\[(\d+|x)\])?$/.exec(segment);
  if (!m) return undefined;
  if (m[2] === 'x') {
    const key = Object.keys(holder).find((k) => k.startsWith(m[1]) && /^[A-Z]/.test(k.slice(m[1].length)));
    return key ? { key } : undefined;
  }
  return { key: m[1], index: m[2] === undefined ? undefined : Number(m[2]) };
}

const DAY = /^(\d{4}-\d{2})-\d{2}/;

/**
 * Takes the refused value out of the resource (in place): a date or dateTime becomes its month, anything else is
 * removed, and containers left empty go with it. Returns the warning, or undefined when the path leads nowhere.
 */
export function takeOutValue(resource: Json, value: UnstorableValue): string | undefined {
  const segments = value.path.split('.').slice(1);
  const trail: { holder: Json | unknown[]; key: string | number }[] = [];
  let at: unknown = resource;
  for (const segment of segments) {
    if (!at || typeof at !== 'object' || Array.isArray(at)) return undefined;
    const s = step(at as Json, segment);
    if (!s || !(s.key in (at as Json))) return undefined;
    trail.push({ holder: at as Json, key: s.key });
    at = (at as Json)[s.key];
    if (s.index !== undefined) {
      if (!Array.isArray(at) || s.index >= at.length) return undefined;
      trail.push({ holder: at, key: s.index });
      at = at[s.index];
    } else if (Array.isArray(at) && at.length === 1) {
      trail.push({ holder: at, key: 0 });
      at = at[0];
    }
  }
  const last = trail[trail.length - 1];
  if (!last) return undefined;
  const label = entryLabel(resource);
  const shown = typeof at === 'string' || typeof at === 'number' ? `"${at}"` : JSON.stringify(at)?.slice(0, 80);
  const month = typeof at === 'string' ? DAY.exec(at)?.[1] : undefined;
  if (month && month !== at) {
    (last.holder as Json)[last.key as string] = month;
    return `${label}: ${value.path} ${shown} could not be stored (${value.message}); kept as ${month}`;
  }
  for (let i = trail.length - 1; i >= 0; i--) {
    const { holder, key } = trail[i];
    if (Array.isArray(holder)) holder.splice(key as number, 1);
    else delete holder[key as string];
    const empty = Array.isArray(holder) ? holder.length === 0 : Object.keys(holder).length === 0;
    if (!empty || i === 0) break;
  }
  return `${label}: ${value.path} ${shown} could not be stored (${value.message}); left out`;
}

/** The entry a resource came from, as a warning names it: its first CDA id, else its type. */
function entryLabel(resource: Json): string {
  const ids = resource.identifier as Identifier[] | Identifier | undefined;
  const first = Array.isArray(ids) ? ids[0] : ids;
  return `${resource.resourceType as string}${first?.value ? ` ${first.value}` : ''}`;
}
