import type { CodeableConcept, Condition } from '@medplum/fhirtypes';
import { codeableConcept, effective, identifiers } from './cda-datatype-readers';
import {
  SNOMED,
  authorTime,
  codingIn,
  compact,
  concept,
  isNegated,
  isNullKey,
  notes,
  saysNone,
  related,
  relatedWithTemplate,
  statementText,
  statusOf,
  valueOf,
} from './entry-common';
import type { ImportContext } from './import-context';
import { mapAuthors, PARTY_TARGETS } from './participant-map';
import { XNode, attr, child, templateRoots } from './xml-node';
import type { AnyRef } from './import-context';

/** Templates of observations that state a problem (problem, R1 problem, functional/cognitive problems). */
export const PROBLEM_OBSERVATION = new Set([
  '2.16.840.1.113883.10.20.22.4.4',
  '2.16.840.1.113883.10.20.1.28',
  '2.16.840.1.113883.10.20.22.4.68',
  '2.16.840.1.113883.10.20.22.4.73',
  '1.3.6.1.4.1.19376.1.5.3.1.4.5',
]);
const PROBLEM_STATUS = new Set(['2.16.840.1.113883.10.20.22.4.6', '2.16.840.1.113883.10.20.1.50']);

const CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/condition-category';
const US_CORE_CATEGORY = 'http://hl7.org/fhir/us/core/CodeSystem/condition-category';
const CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';

export type ConditionCategory = 'problem-list-item' | 'encounter-diagnosis' | 'health-concern';

/** Generic problem codes: a negated observation with one of these means "no problems", not a refuted finding. */
const GENERIC_PROBLEM = new Set(['55607006', '404684003', '64572001', '282291009', '418799008', '409586006', '248536006', '373930000']);

function categoryConcept(category: ConditionCategory): CodeableConcept {
  if (category === 'health-concern') return { coding: [{ system: US_CORE_CATEGORY, code: 'health-concern', display: 'Health Concern' }] };
  if (category === 'encounter-diagnosis')
    return { coding: [{ system: CATEGORY_SYSTEM, code: 'encounter-diagnosis', display: 'Encounter Diagnosis' }] };
  return { coding: [{ system: CATEGORY_SYSTEM, code: 'problem-list-item', display: 'Problem List Item' }] };
}

/**
 * A concern act (problem concern, health concern, diagnosis acts) or a bare problem observation:
 * one Condition per problem observation; a concern with none becomes one Condition from its own text.
 */
export function mapConditionEntry(node: XNode, ctx: ImportContext, category: ConditionCategory): AnyRef[] {
  if (attr(node, 'classCode') === 'OBS' || templateRoots(node).some((r) => PROBLEM_OBSERVATION.has(r))) {
    return [mapProblemObservation(node, undefined, ctx, category)];
  }
  let observations = relatedWithTemplate(node, PROBLEM_OBSERVATION);
  if (observations.length === 0)
    observations = related(node).filter(
      (s) => attr(s, 'classCode') === 'OBS' && valueOf(s) && !templateRoots(s).some((r) => PROBLEM_STATUS.has(r)),
    );
  if (observations.length === 0) {
    ctx.warn('A concern act has no problem observation; its Condition is made from the act itself');
    return [mapProblemObservation(node, node, ctx, category)];
  }
  return observations.map((obs) => mapProblemObservation(obs, node, ctx, category));
}

/** One problem observation as a Condition (negated: refuted, or "No current problems" when generic). */
export function mapProblemObservation(obs: XNode, concern: XNode | undefined, ctx: ImportContext, category: ConditionCategory): AnyRef {
  const valueNode = obs === concern ? child(obs, 'code') : valueOf(obs);
  let code = codeableConcept(valueNode, ctx);
  const negated = isNegated(obs);
  const snomed = codingIn(code, SNOMED)?.code;
  const missing = isNullKey(valueNode, ctx) || (snomed !== undefined && GENERIC_PROBLEM.has(snomed) && code?.coding?.length === 1);
  let verification = 'confirmed';
  if (negated) {
    if (missing) code = concept(SNOMED, '160245001', 'No current problems or disability');
    else verification = 'refuted';
  } else if (missing && saysNone(obs, ctx, code?.text)) {
    code = concept(SNOMED, '160245001', 'No current problems or disability');
    ctx.warn('A problem with no code whose text says "no known" was read as No current problems');
  }
  if (!code || (!code.coding && !code.text)) {
    const text = statementText(obs, ctx) ?? (concern ? statementText(concern, ctx) : undefined);
    code = { ...(code ?? {}), ...(text ? { text } : { text: 'Unknown problem' }) };
  }
  const time = effective(child(obs, 'effectiveTime'), ctx);
  let status = clinicalStatus(obs, concern, !!time.period?.end);
  if (time.period?.end && (status === 'active' || status === 'recurrence' || status === 'relapse')) {
    // con-4: an abated condition cannot be active; the end date wins over the status observation.
    ctx.warn('A problem with an end date but status active was kept as resolved');
    status = 'resolved';
  }
  const condition: Condition = {
    resourceType: 'Condition',
    identifier: ctx.claimIdentifiers('Condition', identifiers(obs)),
    clinicalStatus: { coding: [{ system: CLINICAL, code: status }] },
    verificationStatus: { coding: [{ system: VERIFICATION, code: verification }] },
    category: [categoryConcept(category)],
    code,
    subject: ctx.patientReference,
    onsetDateTime: time.period?.start ?? time.dateTime,
    abatementDateTime: time.period?.end,
    recordedDate: authorTime(obs, ctx) ?? (concern ? authorTime(concern, ctx) : undefined),
    recorder: mapAuthors(obs, ctx, PARTY_TARGETS.person)[0],
    note: notes(obs, ctx),
  };
  return ctx.add(compact(condition));
}

function clinicalStatus(obs: XNode, concern: XNode | undefined, ended: boolean): string {
  for (const status of relatedWithTemplate(obs, PROBLEM_STATUS)) {
    const code = attr(valueOf(status), 'code');
    if (code === '55561003') return 'active';
    if (code === '73425007') return 'inactive';
    if (code === '413322009') return 'resolved';
  }
  if (ended) return 'resolved';
  const concernStatus = concern ? statusOf(concern) : undefined;
  if (concernStatus === 'completed') return 'resolved';
  if (concernStatus === 'aborted' || concernStatus === 'suspended') return 'inactive';
  return 'active';
}
