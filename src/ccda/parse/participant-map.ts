import type { Device, Identifier, Organization, Practitioner, Reference } from '@medplum/fhirtypes';
import { address, codeableConcept, contactPoint, humanName, identifiers } from './cda-datatype-readers';
import type { ImportContext } from './import-context';
import { compact } from './entry-common';
import { XNode, attr, child, children, textOf } from './xml-node';
import type { AnyRef } from './import-context';

/*
 * Practitioners, organizations and authoring devices appear many times in one document (every
 * entry's author). They are made once per document, keyed by their first identifier (NPI when
 * given) or, without one, by name; the lead's persistence dedupes them across documents by the
 * same identifier (POST with ifNoneExist).
 */

/**
 * The ids of a person or organization: short runs of zeros or nines ('0', '99') are what senders write for "no
 * id" there (an entry may be numbered 0 in its own namespace, a doctor is not), so they identify nobody.
 */
function partyIds(node: XNode | undefined): Identifier[] {
  return identifiers(node).filter((id) => !/^(0+|9+)$/.test(id.value ?? ''));
}

function dedupeKey(kind: string, ids: Identifier[], fallback: string | undefined): string | undefined {
  if (ids.length > 0) return `${kind}|${ids[0].system}|${ids[0].value}`;
  return fallback ? `${kind}|name|${fallback.toLowerCase()}` : undefined;
}

/** An Organization from a CDA organization-like element (representedOrganization, custodian, payer...). */
export function mapOrganization(node: XNode | undefined, ctx: ImportContext): Reference<Organization> | undefined {
  if (!node || attr(node, 'nullFlavor')) return undefined;
  const ids = partyIds(node);
  const name = children(node, 'name').map(textOf).find(Boolean);
  const key = dedupeKey('Organization', ids, name);
  if (!key) return undefined;
  return ctx.addShared(key, () => {
    const org: Organization = { resourceType: 'Organization' };
    if (ids.length) org.identifier = ids;
    if (name) org.name = name;
    const telecom = children(node, 'telecom')
      .map(contactPoint)
      .filter((t) => t !== undefined);
    if (telecom.length) org.telecom = telecom;
    // org-1: an organization's address is never a home address.
    const addr = children(node, 'addr')
      .map(address)
      .filter((a) => a !== undefined)
      .map((a) => (a.use === 'home' ? { ...a, use: undefined } : a))
      .map((a) => compact(a));
    if (addr.length) org.address = addr;
    return org;
  });
}

/** The resource types a CDA author, performer or other assigned role becomes here. */
export type PartyType = 'Practitioner' | 'Device' | 'Organization';

/**
 * The party types an element of FHIR R4 may point at, among those a role becomes (the element's targetProfile in the
 * R4 definitions): e.g. AllergyIntolerance.recorder takes a Practitioner (or PractitionerRole, Patient,
 * RelatedPerson, which an import never makes) but no Device or Organization.
 */
export const PARTY_TARGETS = Object.freeze({
  /** Elements that take any of the three (MedicationRequest.requester, Procedure.performer.actor, Composition.author...). */
  any: new Set<PartyType>(['Practitioner', 'Device', 'Organization']),
  /** A person only (AllergyIntolerance, Condition and Procedure recorder, Goal.expressedBy, Encounter.participant). */
  person: new Set<PartyType>(['Practitioner']),
  /** A person or an organisation (Observation.performer, Immunization.performer.actor, Composition.attester.party...). */
  personOrOrganization: new Set<PartyType>(['Practitioner', 'Organization']),
} satisfies Record<string, ReadonlySet<PartyType>>);

/**
 * The Practitioner (or Device, or Organization when no person is named) behind an assignedAuthor / assignedEntity /
 * performer role element, of a type the element it goes into takes (`allowed`): a device there that takes no Device
 * becomes the organisation it represents where an Organization is taken, else nothing (its information stays in the
 * document-level Composition's authors where it is one). A party left out is not made at all.
 */
export function mapAssigned(
  role: XNode | undefined,
  ctx: ImportContext,
  allowed: ReadonlySet<PartyType> = PARTY_TARGETS.any,
): AnyRef | undefined {
  if (!role || attr(role, 'nullFlavor')) return undefined;
  const person = child(role, 'assignedPerson') ?? child(role, 'associatedPerson');
  const device = child(role, 'assignedAuthoringDevice');
  const orgNode = child(role, 'representedOrganization');
  const organization = (): AnyRef | undefined => (allowed.has('Organization') ? mapOrganization(orgNode, ctx) : undefined);
  const ids = partyIds(role);
  if (person && !attr(person, 'nullFlavor')) {
    const name = humanName(child(person, 'name'));
    const label = name ? [name.prefix, name.given, name.family, name.text].flat().filter(Boolean).join(' ') : undefined;
    const key = dedupeKey('Practitioner', ids, label);
    if (!key || !allowed.has('Practitioner')) return orgNode ? organization() : undefined;
    return ctx.addShared(key, () => {
      const practitioner: Practitioner = { resourceType: 'Practitioner' };
      if (ids.length) practitioner.identifier = ids;
      if (name) practitioner.name = [name];
      const telecom = children(role, 'telecom')
        .map(contactPoint)
        .filter((t) => t !== undefined);
      if (telecom.length) practitioner.telecom = telecom;
      const addr = children(role, 'addr')
        .map(address)
        .filter((a) => a !== undefined);
      if (addr.length) practitioner.address = addr;
      const specialty = codeableConcept(child(role, 'code'), ctx);
      if (specialty?.coding) practitioner.qualification = [{ code: specialty }];
      return practitioner;
    });
  }
  if (device) {
    if (!allowed.has('Device')) return organization();
    const model = textOf(child(device, 'manufacturerModelName'));
    const software = textOf(child(device, 'softwareName'));
    const key = dedupeKey('Device', ids, [model, software].filter(Boolean).join('/') || undefined);
    if (!key) return undefined;
    return ctx.addShared(key, () => {
      const dev: Device = { resourceType: 'Device' };
      if (ids.length) dev.identifier = ids;
      if (model) dev.modelNumber = model;
      if (software) dev.deviceName = [{ name: software, type: 'other' }];
      if (model && !software) dev.deviceName = [{ name: model, type: 'model-name' }];
      return dev;
    });
  }
  return organization();
}

/** References for every author of an element (entry-level or header), of the types `allowed` (see mapAssigned). */
export function mapAuthors(node: XNode | undefined, ctx: ImportContext, allowed: ReadonlySet<PartyType> = PARTY_TARGETS.any): AnyRef[] {
  const out: AnyRef[] = [];
  for (const author of children(node, 'author')) {
    const ref = mapAssigned(child(author, 'assignedAuthor'), ctx, allowed);
    if (ref) out.push(ref);
  }
  return out;
}

/** References for every performer of an element, of the types `allowed` (see mapAssigned). */
export function mapPerformers(node: XNode | undefined, ctx: ImportContext, allowed: ReadonlySet<PartyType> = PARTY_TARGETS.any): AnyRef[] {
  const out: AnyRef[] = [];
  for (const performer of children(node, 'performer')) {
    const ref = mapAssigned(child(performer, 'assignedEntity'), ctx, allowed);
    if (ref) out.push(ref);
  }
  return out;
}
