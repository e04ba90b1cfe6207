import type {
  CodeableConcept,
  Dosage,
  Immunization,
  ImmunizationRecommendation,
  MedicationRequest,
  MedicationStatement,
  Timing,
} from '@medplum/fhirtypes';
import { codeableConcept, effective, firstEffectiveTime, identifiers, quantity, referencedText } from './cda-datatype-readers';
import {
  IPS_ABSENT,
  authorTime,
  compact,
  concept,
  isNegated,
  isNullKey,
  notes,
  saysNone,
  reasons,
  related,
  statementText,
  statusOf,
} from './entry-common';
import type { ImportContext } from './import-context';
import { mapAuthors, mapOrganization, mapPerformers, PARTY_TARGETS } from './participant-map';
import { XNode, attr, child, children, path, textOf } from './xml-node';
import type { AnyRef } from './import-context';

/** The product code element of a substanceAdministration (C-CDA R1.1/R2 and CCD R1 shapes). */
function productCode(sa: XNode): XNode | undefined {
  const product = path(sa, 'consumable', 'manufacturedProduct');
  return path(product, 'manufacturedMaterial', 'code') ?? path(product, 'manufacturedLabeledDrug', 'code');
}

const PLANNED_MOODS = new Set(['INT', 'RQO', 'PRMS', 'PRP', 'ARQ']);

const STATEMENT_STATUS: Record<string, MedicationStatement['status']> = {
  active: 'active',
  completed: 'completed',
  aborted: 'stopped',
  cancelled: 'stopped',
  suspended: 'on-hold',
  held: 'on-hold',
  new: 'active',
  nullified: 'entered-in-error',
};
const REQUEST_STATUS: Record<string, MedicationRequest['status']> = {
  active: 'active',
  completed: 'completed',
  aborted: 'stopped',
  cancelled: 'cancelled',
  suspended: 'on-hold',
  held: 'on-hold',
  new: 'draft',
  nullified: 'entered-in-error',
};

function noKnownMedications(): CodeableConcept {
  return concept(IPS_ABSENT, 'no-known-medications', 'No known medications');
}

/**
 * A medication activity: moodCode EVN is a MedicationStatement (what the patient takes);
 * INT/RQO/PRMS/PRP is a MedicationRequest (ordered or planned; `intent` follows the mood).
 * Negated with a drug: not-taken (statement) / doNotPerform (request); negated with no drug
 * (or a vendor "none" row): the IPS "no-known-medications" code, never a positive medication.
 */
export function mapMedicationActivity(sa: XNode, ctx: ImportContext, plannedSection = false): AnyRef {
  const codeNode = productCode(sa);
  let medication = codeableConcept(codeNode, ctx);
  const negated = isNegated(sa);
  const missing = isNullKey(codeNode, ctx);
  let noneKnown = false;
  if (missing && (negated || saysNone(sa, ctx, medication?.text))) {
    medication = noKnownMedications();
    noneKnown = true;
    if (!negated) ctx.warn('A medication with no code whose text says "no known" was read as No known medications');
  }
  if (!medication || (!medication.coding && !medication.text)) {
    medication = { ...(medication ?? {}), text: statementText(sa, ctx) ?? 'Unknown medication' };
    ctx.warn('A medication activity without a product code was kept with its text');
  }
  const mood = attr(sa, 'moodCode') ?? 'EVN';
  const status = statusOf(sa) ?? '';
  const time = effective(firstEffectiveTime(sa), ctx);
  const dosage = dosageOf(sa, ctx);
  const ids = identifiers(sa);
  if ((PLANNED_MOODS.has(mood) || plannedSection) && !noneKnown) {
    const request: MedicationRequest = {
      resourceType: 'MedicationRequest',
      identifier: ctx.claimIdentifiers('MedicationRequest', ids),
      status: REQUEST_STATUS[status] ?? (plannedSection ? 'draft' : 'active'),
      intent: plannedSection || mood === 'PRP' || mood === 'PRMS' ? 'plan' : mood === 'RQO' ? 'order' : 'order',
      doNotPerform: negated ? true : undefined,
      medicationCodeableConcept: medication,
      subject: ctx.patientReference,
      authoredOn: authorTime(sa, ctx),
      requester: mapAuthors(sa, ctx)[0],
      reasonCode: reasons(sa, ctx),
      note: undefined,
      dosageInstruction: dosage
        ? [
            {
              ...dosage,
              ...(time.period
                ? { timing: { ...(dosage.timing ?? {}), repeat: { ...(dosage.timing?.repeat ?? {}), boundsPeriod: time.period } } }
                : {}),
            },
          ]
        : time.period
          ? [{ timing: { repeat: { boundsPeriod: time.period } } }]
          : undefined,
    };
    return ctx.add(compact(request));
  }
  const statement: MedicationStatement = {
    resourceType: 'MedicationStatement',
    identifier: ctx.claimIdentifiers('MedicationStatement', ids),
    status: noneKnown ? 'active' : negated ? 'not-taken' : (STATEMENT_STATUS[status] ?? (status ? 'unknown' : 'active')),
    medicationCodeableConcept: medication,
    subject: ctx.patientReference,
    effectivePeriod: noneKnown ? undefined : time.period,
    effectiveDateTime: noneKnown ? undefined : time.dateTime,
    dateAsserted: authorTime(sa, ctx),
    informationSource: mapAuthors(sa, ctx, PARTY_TARGETS.personOrOrganization)[0],
    reasonCode: noneKnown ? undefined : reasons(sa, ctx),
    dosage: dosage && !noneKnown ? [dosage] : undefined,
  };
  return ctx.add(compact(statement));
}

const PERIOD_UNITS: Record<string, Timing['repeat'] extends infer R ? (R extends { periodUnit?: infer U } ? U : never) : never> = {
  s: 's',
  min: 'min',
  h: 'h',
  d: 'd',
  wk: 'wk',
  mo: 'mo',
  a: 'a',
};

function dosageOf(sa: XNode, ctx: ImportContext): Dosage | undefined {
  const dosage: Dosage = {};
  const sig = referencedText(child(sa, 'text'), ctx);
  if (sig) dosage.text = sig;
  for (const et of children(sa, 'effectiveTime')) {
    const type = (attr(et, 'xsi:type') ?? '').replace(/^.*:/, '');
    if (type === 'PIVL_TS') {
      const period = child(et, 'period');
      const value = Number(attr(period, 'value'));
      const unit = PERIOD_UNITS[attr(period, 'unit') ?? ''];
      if (Number.isFinite(value) && unit) dosage.timing = { repeat: { period: value, periodUnit: unit } };
    } else if (type === 'EIVL_TS') {
      const event = attr(child(et, 'event'), 'code');
      if (event)
        dosage.timing = {
          ...(dosage.timing ?? {}),
          code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-TimingEvent', code: event }] },
        };
    }
  }
  const route = codeableConcept(child(sa, 'routeCode'), ctx);
  if (route?.coding || route?.text) dosage.route = route;
  const site = codeableConcept(child(sa, 'approachSiteCode'), ctx);
  if (site?.coding) dosage.site = site;
  const dose = quantity(child(sa, 'doseQuantity'));
  const rate = quantity(child(sa, 'rateQuantity'));
  if (dose || rate) dosage.doseAndRate = [compact({ doseQuantity: dose, rateQuantity: rate })];
  const prn = attr(child(sa, 'precondition'), 'typeCode');
  if (prn) dosage.asNeededBoolean = true;
  return Object.keys(dosage).length ? dosage : undefined;
}

/**
 * An immunization activity as an Immunization. negationInd="true" is a refusal or an
 * immunization not given: status not-done with the refusal reason, never a completed dose.
 */
export function mapImmunizationActivity(sa: XNode, ctx: ImportContext): AnyRef {
  const codeNode = productCode(sa);
  let vaccine = codeableConcept(codeNode, ctx);
  const negated = isNegated(sa);
  const mood = attr(sa, 'moodCode') ?? 'EVN';
  if (mood !== 'EVN' && !negated) return mapPlannedImmunization(sa, vaccine, ctx);
  const missing = isNullKey(codeNode, ctx);
  let noneKnown = false;
  if (missing && (negated || saysNone(sa, ctx, vaccine?.text))) {
    // The same "no known" representation whether the sender negated the entry or only wrote "None" beside it:
    // never a completed dose of nothing.
    vaccine = concept(IPS_ABSENT, 'no-known-immunizations', 'No known immunizations');
    noneKnown = true;
    if (!negated) ctx.warn('An immunization with no code whose text says "none" was read as No known immunizations');
  }
  if (!vaccine || (!vaccine.coding && !vaccine.text)) vaccine = { ...(vaccine ?? {}), text: statementText(sa, ctx) ?? 'Unknown vaccine' };
  const time = effective(firstEffectiveTime(sa), ctx);
  const status = statusOf(sa);
  const refusal = related(sa, 'RSON')
    .map((r) => codeableConcept(child(r, 'code'), ctx))
    .find((cc) => cc?.coding || cc?.text);
  const material = path(sa, 'consumable', 'manufacturedProduct', 'manufacturedMaterial');
  const immunization: Immunization = {
    resourceType: 'Immunization',
    identifier: ctx.claimIdentifiers('Immunization', identifiers(sa)),
    status:
      negated || noneKnown || status === 'cancelled' || status === 'aborted'
        ? 'not-done'
        : status === 'nullified'
          ? 'entered-in-error'
          : 'completed',
    statusReason: negated ? refusal : undefined,
    vaccineCode: vaccine,
    patient: ctx.patientReference,
    occurrenceDateTime: time.dateTime ?? time.period?.start,
    occurrenceString: time.dateTime || time.period?.start ? undefined : 'unknown',
    primarySource: true,
    manufacturer: mapOrganization(path(sa, 'consumable', 'manufacturedProduct', 'manufacturerOrganization'), ctx),
    lotNumber: textOf(child(material, 'lotNumberText')),
    route: codeableConcept(child(sa, 'routeCode'), ctx),
    site: codeableConcept(child(sa, 'approachSiteCode'), ctx),
    doseQuantity: quantity(child(sa, 'doseQuantity')),
    performer: mapPerformers(sa, ctx, PARTY_TARGETS.personOrOrganization).map((actor) => ({ actor })),
    note: notes(sa, ctx),
  };
  if (immunization.route && !immunization.route.coding) delete immunization.route;
  if (immunization.site && !immunization.site.coding) delete immunization.site;
  return ctx.add(compact(immunization));
}

function mapPlannedImmunization(sa: XNode, vaccine: CodeableConcept | undefined, ctx: ImportContext): AnyRef {
  const time = effective(firstEffectiveTime(sa), ctx);
  const recommendation: ImmunizationRecommendation = {
    resourceType: 'ImmunizationRecommendation',
    identifier: ctx.claimIdentifiers('ImmunizationRecommendation', identifiers(sa)),
    patient: ctx.patientReference,
    date: authorTime(sa, ctx) ?? ctx.documentDate ?? time.dateTime ?? time.period?.start ?? '1900',
    recommendation: [
      compact({
        vaccineCode: [vaccine ?? { text: statementText(sa, ctx) ?? 'Unknown vaccine' }],
        forecastStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status', code: 'due' }] },
        dateCriterion:
          (time.dateTime ?? time.period?.start)
            ? [
                {
                  code: { coding: [{ system: 'http://loinc.org', code: '30980-7', display: 'Date vaccine due' }] },
                  value: (time.dateTime ?? time.period?.start) as string,
                },
              ]
            : undefined,
      }),
    ],
  };
  return ctx.add(compact(recommendation));
}
