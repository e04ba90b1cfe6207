import type { CodeableConcept, DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { codeableConcept, effective, identifiers, quantity } from './cda-datatype-readers';
import {
  LOINC, SNOMED, authorTime, compact, concept, isNegated, notes, observationValue, statementOf, statementText, statusOf,
} from './entry-common';
import type { ImportContext } from './import-context';
import { mapAuthors } from './participant-map';
import { XNode, attr, child, children, tagOf, textOf } from './xml-node';
import type { AnyRef } from './import-context';

const CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** The Observation categories C-CDA sections map to. */
export type ObservationCategory = 'laboratory' | 'vital-signs' | 'social-history' | 'survey' | 'exam' | 'imaging' | 'procedure' | 'therapy' | 'activity';

function categoryConcept(category: ObservationCategory): CodeableConcept {
  const display: Record<ObservationCategory, string> = {
    laboratory: 'Laboratory', 'vital-signs': 'Vital Signs', 'social-history': 'Social History', survey: 'Survey', exam: 'Exam',
    imaging: 'Imaging', procedure: 'Procedure', therapy: 'Therapy', activity: 'Activity',
  };
  return { coding: [{ system: CATEGORY_SYSTEM, code: category, display: display[category] }] };
}

const STATUS: Record<string, Observation['status']> = {
  completed: 'final', active: 'preliminary', aborted: 'cancelled', cancelled: 'cancelled', held: 'registered', suspended: 'registered', nullified: 'entered-in-error',
};

/** One observation (result, vital sign, social history, assessment...) as an Observation. */
export function mapObservation(obs: XNode, ctx: ImportContext, category: ObservationCategory | undefined): AnyRef {
  let code = codeableConcept(child(obs, 'code'), ctx);
  if (!code || (!code.coding && !code.text)) code = { ...(code ?? {}), text: statementText(obs, ctx) ?? 'Unknown observation' };
  const time = effective(child(obs, 'effectiveTime'), ctx);
  const observation: Observation = {
    resourceType: 'Observation',
    identifier: ctx.claimIdentifiers('Observation', identifiers(obs)),
    status: STATUS[statusOf(obs) ?? ''] ?? 'final',
    category: category ? [categoryConcept(category)] : undefined,
    code,
    subject: ctx.patientReference,
    effectiveDateTime: time.dateTime,
    effectivePeriod: time.period,
    issued: undefined,
    performer: mapAuthors(obs, ctx),
    ...observationValue(obs, ctx),
    interpretation: children(obs, 'interpretationCode').map((n) => codeableConcept(n, ctx)).filter((c): c is CodeableConcept => !!c?.coding),
    bodySite: codeableConcept(child(obs, 'targetSiteCode'), ctx),
    method: codeableConcept(child(obs, 'methodCode'), ctx),
    referenceRange: referenceRanges(obs, ctx),
    note: notes(obs, ctx),
  };
  if (observation.bodySite && !observation.bodySite.coding) delete observation.bodySite;
  if (observation.method && !observation.method.coding) delete observation.method;
  if (isNegated(obs)) {
    // negationInd: the finding was looked for and is absent. The finding (coded value, else the
    // code) becomes Observation.code and the value says Negative, so it never reads as present.
    const finding = observation.valueCodeableConcept;
    if (finding?.coding) observation.code = finding;
    delete observation.valueQuantity;
    delete observation.valueString;
    delete observation.valueBoolean;
    delete observation.dataAbsentReason;
    observation.valueCodeableConcept = concept(SNOMED, '260385009', 'Negative');
    observation.interpretation = [concept('http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', 'NEG', 'Negative')];
  }
  return ctx.add(compact(observation));
}

function referenceRanges(obs: XNode, ctx: ImportContext): Observation['referenceRange'] {
  const out: NonNullable<Observation['referenceRange']> = [];
  for (const rr of children(obs, 'referenceRange')) {
    const range = child(rr, 'observationRange');
    const value = child(range, 'value');
    const low = quantity(child(value, 'low'));
    const high = quantity(child(value, 'high'));
    const text = range ? statementText(range, ctx) : undefined;
    if (low || high || text) out.push(compact({ low, high, text }));
  }
  return out.length ? out : undefined;
}

/** Member observations of an organizer (components holding an observation; nested organizers flattened). */
function organizerMembers(organizer: XNode): XNode[] {
  const out: XNode[] = [];
  for (const component of children(organizer, 'component')) {
    const statement = statementOf(component);
    if (!statement) continue;
    if (attr(statement, 'classCode') === 'CLUSTER' || attr(statement, 'classCode') === 'BATTERY' || child(statement, 'component')) {
      if (tagOf(statement) === 'organizer') {
        out.push(...organizerMembers(statement));
        continue;
      }
    }
    out.push(statement);
  }
  return out;
}

/** A result organizer: a DiagnosticReport whose `result` lists its member Observations. */
export function mapResultOrganizer(organizer: XNode, ctx: ImportContext): AnyRef[] {
  const members = organizerMembers(organizer).map((m) => mapObservation(m, ctx, 'laboratory'));
  let code = codeableConcept(child(organizer, 'code'), ctx);
  if (!code || (!code.coding && !code.text)) code = { ...(code ?? {}), text: statementText(organizer, ctx) ?? 'Results' };
  const time = effective(child(organizer, 'effectiveTime'), ctx);
  const status = statusOf(organizer);
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    identifier: ctx.claimIdentifiers('DiagnosticReport', identifiers(organizer)),
    status: status === 'active' ? 'preliminary' : status === 'aborted' || status === 'cancelled' ? 'cancelled' : 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB', display: 'Laboratory' }] }],
    code,
    subject: ctx.patientReference,
    effectiveDateTime: time.dateTime ?? (time.period && !time.period.end ? time.period.start : undefined),
    effectivePeriod: time.period?.end ? time.period : undefined,
    issued: undefined,
    performer: mapAuthors(organizer, ctx),
    result: members,
  };
  if (!report.effectiveDateTime && !report.effectivePeriod) {
    const first = members.length ? undefined : authorTime(organizer, ctx);
    if (first) report.effectiveDateTime = first;
  }
  return [ctx.add(compact(report)), ...members];
}

/**
 * A vital signs organizer: each member is a vital-signs Observation, grouped under a
 * "Vital signs panel" (LOINC 85353-1) Observation whose hasMember lists them (US Core shape).
 */
export function mapVitalSignsOrganizer(organizer: XNode, ctx: ImportContext): AnyRef[] {
  const members = organizerMembers(organizer).map((m) => mapObservation(m, ctx, 'vital-signs'));
  return [mapPanel(organizer, members, ctx, 'vital-signs', concept(LOINC, '85353-1', 'Vital signs, weight, height, head circumference, oxygen saturation and BMI panel')), ...members];
}

/** Any other organizer (functional, cognitive, advance directives...): a panel Observation with members. */
export function mapObservationOrganizer(organizer: XNode, ctx: ImportContext, category: ObservationCategory | undefined): AnyRef[] {
  const members = organizerMembers(organizer).map((m) => mapObservation(m, ctx, category));
  return [mapPanel(organizer, members, ctx, category, undefined), ...members];
}

function mapPanel(organizer: XNode, members: AnyRef[], ctx: ImportContext, category: ObservationCategory | undefined, fallbackCode: CodeableConcept | undefined): AnyRef {
  let code = codeableConcept(child(organizer, 'code'), ctx);
  if (fallbackCode && !code?.coding?.some((c) => c.system === LOINC)) code = { ...fallbackCode, coding: [...(fallbackCode.coding ?? []), ...(code?.coding ?? [])] };
  if (!code || (!code.coding && !code.text)) code = { text: statementText(organizer, ctx) ?? 'Panel' };
  const time = effective(child(organizer, 'effectiveTime'), ctx);
  const panel: Observation = {
    resourceType: 'Observation',
    identifier: ctx.claimIdentifiers('Observation', identifiers(organizer)),
    status: STATUS[statusOf(organizer) ?? ''] ?? 'final',
    category: category ? [categoryConcept(category)] : undefined,
    code,
    subject: ctx.patientReference,
    effectiveDateTime: time.dateTime ?? (time.period && !time.period.end ? time.period.start : undefined),
    effectivePeriod: time.period?.end ? time.period : undefined,
    hasMember: members,
  };
  return ctx.add(compact(panel));
}
