import type { Annotation, CodeableConcept, DiagnosticReport, Encounter, Identifier, Observation, Reference } from '@medplum/fhirtypes';
import { codeableConcept, effective, identifiers, quantity } from './cda-datatype-readers';
import {
  LOINC,
  SNOMED,
  authorTime,
  compact,
  concept,
  isCommentAct,
  isNegated,
  isReferenceOnly,
  notes,
  observationValue,
  statementOf,
  statementText,
  statusOf,
} from './entry-common';
import type { ImportContext } from './import-context';
import { mapAuthors, PARTY_TARGETS } from './participant-map';
import { XNode, attr, child, children, tagOf } from './xml-node';
import type { AnyRef } from './import-context';

const CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** The Observation categories C-CDA sections map to. */
export type ObservationCategory =
  'laboratory' | 'vital-signs' | 'social-history' | 'survey' | 'exam' | 'imaging' | 'procedure' | 'therapy' | 'activity';

function categoryConcept(category: ObservationCategory): CodeableConcept {
  const display: Record<ObservationCategory, string> = {
    laboratory: 'Laboratory',
    'vital-signs': 'Vital Signs',
    'social-history': 'Social History',
    survey: 'Survey',
    exam: 'Exam',
    imaging: 'Imaging',
    procedure: 'Procedure',
    therapy: 'Therapy',
    activity: 'Activity',
  };
  return { coding: [{ system: CATEGORY_SYSTEM, code: category, display: display[category] }] };
}

const STATUS: Record<string, Observation['status']> = {
  completed: 'final',
  active: 'preliminary',
  aborted: 'cancelled',
  cancelled: 'cancelled',
  held: 'registered',
  suspended: 'registered',
  nullified: 'entered-in-error',
};

/** One observation (result, vital sign, social history, assessment...) as an Observation. */
export function mapObservation(obs: XNode, ctx: ImportContext, category: ObservationCategory | undefined, comments: string[] = []): AnyRef {
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
    performer: mapAuthors(obs, ctx, PARTY_TARGETS.personOrOrganization),
    ...observationValue(obs, ctx),
    interpretation: children(obs, 'interpretationCode')
      .map((n) => codeableConcept(n, ctx))
      .filter((c): c is CodeableConcept => !!c?.coding),
    bodySite: codeableConcept(child(obs, 'targetSiteCode'), ctx),
    method: codeableConcept(child(obs, 'methodCode'), ctx),
    referenceRange: referenceRanges(obs, ctx),
    note: withComments(notes(obs, ctx), comments),
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

/** An organizer's member statements, each with the comments that sit beside it, and what the organizer links to. */
interface OrganizerParts {
  readonly members: { readonly node: XNode; readonly comments: string[] }[];
  /** Components that only point at another act (an `<encounter>` or `<act>` holding nothing but an id). */
  readonly links: Identifier[];
}

/**
 * Member observations of an organizer (nested organizers flattened). Two kinds of component are not members:
 * a reference (an encounter or act with only ids: Allscripts ties vital signs to their visit so), which is a
 * link, and a comment act (48767-8), which is a note on the member it sits beside (the one before it, else the
 * next). Read as members, both became Observations coded "Unknown observation" or 48767-8.
 */
function organizerParts(organizer: XNode, ctx: ImportContext): OrganizerParts {
  const members: OrganizerParts['members'][number][] = [];
  const links: Identifier[] = [];
  const orphanComments: string[] = [];
  const walk = (holder: XNode): void => {
    for (const component of children(holder, 'component')) {
      const statement = statementOf(component);
      if (!statement) continue;
      if (
        tagOf(statement) === 'organizer' &&
        (attr(statement, 'classCode') === 'CLUSTER' || attr(statement, 'classCode') === 'BATTERY' || child(statement, 'component'))
      ) {
        walk(statement);
        continue;
      }
      if (isReferenceOnly(statement)) {
        links.push(...identifiers(statement));
        continue;
      }
      if (isCommentAct(statement)) {
        const text = statementText(statement, ctx);
        if (!text) continue;
        const previous = members[members.length - 1];
        if (previous) previous.comments.push(text);
        else orphanComments.push(text);
        continue;
      }
      members.push({ node: statement, comments: orphanComments.splice(0) });
    }
  };
  walk(organizer);
  if (orphanComments.length) ctx.warn('A comment in an organizer with no result beside it was dropped');
  return { members, links };
}

/** A member mapped as an Observation, with the comments beside it as notes. */
function mapMember(member: OrganizerParts['members'][number], ctx: ImportContext, category: ObservationCategory | undefined): AnyRef {
  return mapObservation(member.node, ctx, category, member.comments);
}

/** The organizer's encounter link as a logical reference (resolved to the document's Encounter when it has one). */
function encounterLink(links: Identifier[]): Reference<Encounter> | undefined {
  return links[0] ? { type: 'Encounter', identifier: links[0] } : undefined;
}

/** A result organizer: a DiagnosticReport whose `result` lists its member Observations. */
export function mapResultOrganizer(organizer: XNode, ctx: ImportContext): AnyRef[] {
  const parts = organizerParts(organizer, ctx);
  const members = parts.members.map((m) => mapMember(m, ctx, 'laboratory'));
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
    performer: mapAuthors(organizer, ctx, PARTY_TARGETS.personOrOrganization),
    encounter: encounterLink(parts.links),
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
  const parts = organizerParts(organizer, ctx);
  const members = parts.members.map((m) => mapMember(m, ctx, 'vital-signs'));
  return [
    mapPanel(
      organizer,
      members,
      parts.links,
      ctx,
      'vital-signs',
      concept(LOINC, '85353-1', 'Vital signs, weight, height, head circumference, oxygen saturation and BMI panel'),
    ),
    ...members,
  ];
}

/** Any other organizer (functional, cognitive, advance directives...): a panel Observation with members. */
export function mapObservationOrganizer(organizer: XNode, ctx: ImportContext, category: ObservationCategory | undefined): AnyRef[] {
  const parts = organizerParts(organizer, ctx);
  const members = parts.members.map((m) => mapMember(m, ctx, category));
  return [mapPanel(organizer, members, parts.links, ctx, category, undefined), ...members];
}

function mapPanel(
  organizer: XNode,
  members: AnyRef[],
  links: Identifier[],
  ctx: ImportContext,
  category: ObservationCategory | undefined,
  fallbackCode: CodeableConcept | undefined,
): AnyRef {
  let code = codeableConcept(child(organizer, 'code'), ctx);
  if (fallbackCode && !code?.coding?.some((c) => c.system === LOINC))
    code = { ...fallbackCode, coding: [...(fallbackCode.coding ?? []), ...(code?.coding ?? [])] };
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
    encounter: encounterLink(links),
    hasMember: members,
  };
  return ctx.add(compact(panel));
}

function withComments(own: Annotation[] | undefined, comments: string[]): Annotation[] | undefined {
  const all = [...(own ?? []), ...comments.map((text) => ({ text }))];
  return all.length ? all : undefined;
}
