import type { DocumentReference, FamilyMemberHistory } from '@medplum/fhirtypes';
import { codeableConcept, effective, identifiers, referencedText } from './cda-datatype-readers';
import { authorTime, compact, related, statementText, valueOf } from './entry-common';
import type { ImportContext } from './import-context';
import { mapAuthors } from './participant-map';
import { XNode, attr, child, children, path } from './xml-node';
import type { AnyRef } from './import-context';

/** A note activity as a DocumentReference whose attachment is the note text. */
export function mapNoteActivity(act: XNode, ctx: ImportContext): AnyRef {
  const code = codeableConcept(child(act, 'code'), ctx);
  const textNode = child(act, 'text');
  const text = referencedText(textNode, ctx) ?? '';
  const mediaType = attr(textNode, 'mediaType') ?? 'text/plain';
  const b64 = attr(textNode, 'representation') === 'B64';
  const time = effective(child(act, 'effectiveTime'), ctx);
  const doc: DocumentReference = {
    resourceType: 'DocumentReference',
    identifier: ctx.claimIdentifiers('DocumentReference', identifiers(act)),
    status: 'current',
    type: code && (code.coding || code.text) ? code : { text: 'Note' },
    category: [
      {
        coding: [
          {
            system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category',
            code: 'clinical-note',
            display: 'Clinical Note',
          },
        ],
      },
    ],
    subject: ctx.patientReference,
    date: authorTime(act, ctx) && /T/.test(authorTime(act, ctx) as string) ? authorTime(act, ctx) : undefined,
    author: mapAuthors(act, ctx),
    content: [
      {
        attachment: {
          contentType: b64 ? mediaType : 'text/plain',
          data: b64 ? text.replace(/\s+/g, '') : Buffer.from(text, 'utf8').toString('base64'),
        },
      },
    ],
    context: time.period || time.dateTime ? { period: time.period ?? { start: time.dateTime } } : undefined,
  };
  return ctx.add(compact(doc));
}

/** A family history organizer as a FamilyMemberHistory with one condition per observation. */
export function mapFamilyHistoryOrganizer(organizer: XNode, ctx: ImportContext): AnyRef {
  const subject = path(organizer, 'subject', 'relatedSubject');
  const relationship = codeableConcept(child(subject, 'code'), ctx);
  const gender = attr(path(subject, 'subject', 'administrativeGenderCode'), 'code');
  const conditions: NonNullable<FamilyMemberHistory['condition']> = [];
  const components = children(organizer, 'component');
  for (const component of components) {
    const obs = child(component, 'observation');
    if (!obs) continue;
    const code = codeableConcept(valueOf(obs), ctx) ?? { text: statementText(obs, ctx) ?? 'Unknown condition' };
    const death = related(obs, 'CAUS').length > 0;
    conditions.push(compact({ code, contributedToDeath: death || undefined }));
  }
  const history: FamilyMemberHistory = {
    resourceType: 'FamilyMemberHistory',
    identifier: ctx.claimIdentifiers('FamilyMemberHistory', identifiers(organizer)),
    status: 'completed',
    patient: ctx.patientReference,
    relationship: relationship && (relationship.coding || relationship.text) ? relationship : { text: 'Family member' },
    sex: gender
      ? {
          coding: [
            { system: 'http://hl7.org/fhir/administrative-gender', code: gender === 'M' ? 'male' : gender === 'F' ? 'female' : 'unknown' },
          ],
        }
      : undefined,
    condition: conditions,
  };
  return ctx.add(compact(history));
}
