import type { Identifier, Resource } from '@medplum/fhirtypes';
import { systemUriForOid } from '../../ccda/code-systems';
import { DEFAULT_ID_ROOT } from '../../ccda/render/render-context';

/** The system our own CDA ids import as: root DEFAULT_ID_ROOT, extension "Type/id" (render's writeResourceId). */
export const OWN_ID_SYSTEM = systemUriForOid(DEFAULT_ID_ROOT);

/** "Type/id", optionally followed by "#part" (a vital sign's organizer or component): the form writeResourceId writes. */
const OWN_ID_VALUE = /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(#.*)?$/;

/**
 * The resource ("Type/id") an identifier under our own root names, if it is one: a document Chartkeeper rendered names
 * the patient and each entry by the id of the resource it was rendered from. Only a name, not a proof: whether the
 * caller may see that resource is the caller's repository's to say.
 */
export function ownResourceOf(identifier: Identifier | undefined): { type: string; id: string } | undefined {
  if (identifier?.system !== OWN_ID_SYSTEM) return undefined;
  const m = OWN_ID_VALUE.exec(identifier.value ?? '');
  return m ? { type: m[1], id: m[2] } : undefined;
}

/**
 * The resource a Chartkeeper-written entry was rendered from, from its own id: "Observation/<id>", or with a suffix
 * for a part of one ("Observation/<id>#component-0", a vital sign's organizer and components).
 */
export function ownOriginOf(resource: Resource | undefined): string | undefined {
  const ids = (resource as { identifier?: Identifier | Identifier[] } | undefined)?.identifier;
  for (const id of Array.isArray(ids) ? ids : ids ? [ids] : []) {
    const own = ownResourceOf(id);
    if (own) return `${own.type}/${own.id}`;
  }
  return undefined;
}
