import type { CommunicationRequest, Goal } from '@medplum/fhirtypes';
import { codeableConcept, effective, identifiers } from './cda-datatype-readers';
import { compact, notes, observationValue, statementText, statusOf } from './entry-common';
import type { ImportContext } from './import-context';
import { mapAuthors, PARTY_TARGETS } from './participant-map';
import { XNode, child } from './xml-node';
import type { AnyRef } from './import-context';

/** A goal observation as a Goal (target from its value when it has one). */
export function mapGoal(obs: XNode, ctx: ImportContext): AnyRef {
  const code = codeableConcept(child(obs, 'code'), ctx);
  const text = statementText(obs, ctx);
  const description = code && (code.coding || code.text) ? code : { text: text ?? 'Goal' };
  const time = effective(child(obs, 'effectiveTime'), ctx);
  const value = observationValue(obs, ctx);
  const detail = Object.entries(value).find(([k]) => k !== 'dataAbsentReason');
  // gol-1: a target detail needs a measure, so a goal without a coded code has no target (its text stays the description).
  const target =
    detail && code?.coding
      ? [
          {
            ...(code?.coding ? { measure: code } : {}),
            [detail[0].replace(/^value/, 'detail')]: detail[1],
            ...(time.period?.end ? { dueDate: time.period.end.slice(0, 10) } : {}),
          },
        ]
      : undefined;
  const status = statusOf(obs);
  const goal: Goal = {
    resourceType: 'Goal',
    identifier: ctx.claimIdentifiers('Goal', identifiers(obs)),
    lifecycleStatus: status === 'completed' ? 'completed' : status === 'cancelled' || status === 'aborted' ? 'cancelled' : 'active',
    description,
    subject: ctx.patientReference,
    startDate: (time.dateTime ?? time.period?.start)?.slice(0, 10),
    expressedBy: mapAuthors(obs, ctx, PARTY_TARGETS.person)[0],
    target: target,
    note: text && description.text !== text ? [{ text }] : undefined,
  };
  return ctx.add(compact(goal));
}

/** A patient instruction act as a CommunicationRequest carrying the instruction text. */
export function mapInstruction(act: XNode, ctx: ImportContext): AnyRef {
  const code = codeableConcept(child(act, 'code'), ctx);
  const text = statementText(act, ctx) ?? code?.text ?? 'Instruction';
  const request: CommunicationRequest = {
    resourceType: 'CommunicationRequest',
    identifier: ctx.claimIdentifiers('CommunicationRequest', identifiers(act)),
    status: statusOf(act) === 'completed' ? 'completed' : 'active',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '409073007', display: 'Education' }] }],
    subject: ctx.patientReference,
    payload: [{ contentString: text }],
    reasonCode: code?.coding ? [code] : undefined,
    requester: mapAuthors(act, ctx)[0],
    note: undefined,
  };
  void notes;
  return ctx.add(compact(request));
}
