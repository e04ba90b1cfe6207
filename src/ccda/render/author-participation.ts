import type { Organization, Reference } from '@medplum/fhirtypes';
import { writeAddr, writeIdentifier, writePersonName, writeTelecoms, writeTs } from './cda-datatype-writers';
import type { RenderContext } from './render-context';
import type { XmlWriter } from './xml-writer';

/**
 * Writes an Author Participation (2.16.840.1.113883.10.20.22.4.119) for who recorded or ordered an entry: the
 * provenance USCDI asks for. A Practitioner (directly or through a PractitionerRole) becomes assignedPerson, an
 * Organization representedOrganization; with the header's required parts (id, addr, telecom) since these authors
 * are not described elsewhere. Writes nothing when the reference resolves to neither.
 */
export function writeAuthorParticipation(w: XmlWriter, ctx: RenderContext, who: Reference | undefined, time: string | undefined): void {
  if (!who) return;
  const practitioner = ctx.lookup.practitioner(who);
  const org = practitioner ? undefined : ctx.lookup.resolve<Organization>(who);
  if (!practitioner && org?.resourceType !== 'Organization') return;
  const subject = practitioner ?? (org as Organization);
  w.open('author');
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.119' });
  writeTs(w, 'time', time, 'UNK');
  w.open('assignedAuthor');
  w.empty('id', { root: ctx.idRoot, extension: `${subject.resourceType}/${subject.id ?? 'unknown'}` });
  for (const ident of subject.identifier ?? []) writeIdentifier(w, 'id', ident);
  writeAddr(w, subject.address?.[0]);
  writeTelecoms(w, subject.telecom);
  if (practitioner) {
    w.open('assignedPerson');
    writePersonName(w, practitioner.name?.[0]);
    w.close('assignedPerson');
  } else {
    // The organization's own id again: a reader that makes an Organization of representedOrganization finds it.
    w.open('representedOrganization');
    w.empty('id', { root: ctx.idRoot, extension: `Organization/${subject.id ?? 'unknown'}` });
    if (org?.name) w.element('name', org.name);
    w.close('representedOrganization');
  }
  w.close('assignedAuthor').close('author');
}
