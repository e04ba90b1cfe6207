import type { Encounter } from '@medplum/fhirtypes';
import { address, codeableConcept, effective, identifiers } from './cda-datatype-readers';
import { compact, reasons, related, statusOf } from './entry-common';
import { mapConditionEntry } from './condition-map';
import type { ImportContext } from './import-context';
import { mapPerformers, PARTY_TARGETS } from './participant-map';
import { XNode, attr, child, children, path, templateRoots, textOf } from './xml-node';
import type { Location } from '@medplum/fhirtypes';
import type { AnyRef } from './import-context';

const ENCOUNTER_DIAGNOSIS = new Set(['2.16.840.1.113883.10.20.22.4.80']);
const STATUS: Record<string, Encounter['status']> = {
  completed: 'finished',
  active: 'in-progress',
  aborted: 'cancelled',
  cancelled: 'cancelled',
  new: 'planned',
  held: 'planned',
  suspended: 'onleave',
  nullified: 'entered-in-error',
};
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/**
 * An encounter activity as an Encounter; its encounter diagnoses become encounter-diagnosis
 * Conditions listed in Encounter.diagnosis; service delivery locations become Locations.
 */
export function mapEncounterActivity(node: XNode, ctx: ImportContext): AnyRef[] {
  const diagnosisRefs: AnyRef[] = [];
  for (const statement of related(node)) {
    const isDiagnosis =
      templateRoots(statement).some((r) => ENCOUNTER_DIAGNOSIS.has(r)) ||
      (attr(statement, 'classCode') === 'ACT' && related(statement).length > 0 && attr(child(statement, 'code'), 'code') === '29308-4');
    if (isDiagnosis) diagnosisRefs.push(...mapConditionEntry(statement, ctx, 'encounter-diagnosis'));
  }
  const time = effective(child(node, 'effectiveTime'), ctx);
  const type = codeableConcept(child(node, 'code'), ctx);
  const locations: AnyRef[] = [];
  for (const participant of children(node, 'participant')) {
    if (attr(participant, 'typeCode') !== 'LOC') continue;
    const role = child(participant, 'participantRole');
    const name = textOf(path(role, 'playingEntity', 'name'));
    const ids = identifiers(role);
    const key = ids.length ? `Location|${ids[0].system}|${ids[0].value}` : name ? `Location|name|${name}` : undefined;
    if (!key) continue;
    const ref = ctx.addShared(key, () =>
      compact({
        resourceType: 'Location' as const,
        identifier: ids,
        name,
        type: [codeableConcept(child(role, 'code'), ctx)].filter((c) => c?.coding) as NonNullable<Location['type']>,
        address: address(child(role, 'addr')),
      }),
    );
    if (ref) locations.push(ref);
  }
  const encounter: Encounter = {
    resourceType: 'Encounter',
    identifier: ctx.claimIdentifiers('Encounter', identifiers(node)),
    status: STATUS[statusOf(node) ?? ''] ?? (attr(node, 'moodCode') === 'EVN' || !attr(node, 'moodCode') ? 'finished' : 'planned'),
    class: encounterClass(type),
    type: type && (type.coding || type.text) ? [type] : undefined,
    subject: ctx.patientReference,
    participant: mapPerformers(node, ctx, PARTY_TARGETS.person).map((individual) => ({ individual })),
    period: time.period ?? (time.dateTime ? { start: time.dateTime } : undefined),
    reasonCode: reasons(node, ctx),
    diagnosis: diagnosisRefs.map((condition) => ({ condition })),
    location: locations.map((location) => ({ location })),
  };
  return [ctx.add(compact(encounter)), ...diagnosisRefs];
}

function encounterClass(type: ReturnType<typeof codeableConcept>): Encounter['class'] {
  const actCode = type?.coding?.find((c) => c.system === ACT_CODE);
  if (actCode?.code) return { system: ACT_CODE, code: actCode.code, ...(actCode.display ? { display: actCode.display } : {}) };
  // Encounter.class is required; when the document does not say, say unknown rather than guess.
  return { system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'UNK', display: 'unknown' };
}
