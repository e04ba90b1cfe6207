import type { CodeableConcept, Dosage, Medication, MedicationRequest, MedicationStatement } from '@medplum/fhirtypes';
import {
  conceptText,
  decimalText,
  writeCode,
  writeResourceId,
  writeTextRef,
  writeTs,
  ucumUnit,
} from '../src/ccda/render/cda-datatype-writers';
import { writeAuthorParticipation } from '../src/ccda/render/author-participation';
import { isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { displayDateTime, toHl7Ts } from '../src/ccda/render/hl7-time';
import { NO_INFORMATION, hasNoInformation, isNoKnown } from '../src/ccda/render/clinical-assertion';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

const RXNORM_URI = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const NDC_URI = 'http://hl7.org/fhir/sid/ndc';

/** A medication the patient takes or was prescribed: a MedicationRequest or a MedicationStatement. */
export type MedicationUse = MedicationRequest | MedicationStatement;

/** The drug concept of a request/statement (inline, or from the referenced Medication). */
export function medicationConcept(m: MedicationUse, ctx: RenderContext): CodeableConcept | undefined {
  if (m.medicationCodeableConcept) return m.medicationCodeableConcept;
  const ref = m.medicationReference?.reference;
  const med = ref?.startsWith('#')
    ? (m.contained?.find((c) => c.resourceType === 'Medication' && `#${c.id}` === ref) as Medication | undefined)
    : ctx.lookup.resolve<Medication>(m.medicationReference);
  return med?.code ?? (m.medicationReference?.display ? { text: m.medicationReference.display } : undefined);
}

function times(m: MedicationUse): { start?: string; end?: string } {
  if (m.resourceType === 'MedicationRequest') {
    const bounds = m.dosageInstruction?.[0]?.timing?.repeat?.boundsPeriod;
    return { start: bounds?.start ?? m.authoredOn, end: bounds?.end ?? m.dispenseRequest?.validityPeriod?.end };
  }
  if (m.effectivePeriod) return { start: m.effectivePeriod.start, end: m.effectivePeriod.end };
  return { start: m.effectiveDateTime ?? m.dateAsserted };
}

const STATUS: Record<string, string> = {
  active: 'active',
  'on-hold': 'suspended',
  cancelled: 'cancelled',
  completed: 'completed',
  stopped: 'aborted',
  draft: 'new',
  intended: 'new',
  'not-taken': 'cancelled',
  unknown: 'completed',
};

function isPlanned(m: MedicationUse): boolean {
  return m.resourceType === 'MedicationRequest' && (m.status === 'active' || m.status === 'on-hold' || m.status === 'draft');
}

const PIVL_UNITS: Record<string, string> = { s: 's', min: 'min', h: 'h', d: 'd', wk: 'wk', mo: 'mo', a: 'a' };

function dosageOf(m: MedicationUse): Dosage | undefined {
  return m.resourceType === 'MedicationRequest' ? m.dosageInstruction?.[0] : m.dosage?.[0];
}

/** Whether the record says the drug was not taken (statement) or is not to be given (request). */
function isDenied(m: MedicationUse): boolean {
  return m.resourceType === 'MedicationRequest' ? m.doNotPerform === true : m.status === 'not-taken';
}

function writeMedicationActivity(w: XmlWriter, row: NarrativeRow<MedicationUse>, ctx: RenderContext): void {
  const m = row.item;
  const dosage = dosageOf(m);
  const { start, end } = times(m);
  const drug = medicationConcept(m, ctx);
  // "No known medications" is the negated activity with a drug code of nullFlavor NA; a drug not taken (or not to
  // be given) is the negated activity with that drug. Neither may read as a medication the patient takes.
  const noKnown = isNoKnown(drug);
  const negated = noKnown || isDenied(m);
  w.open('substanceAdministration', {
    classCode: 'SBADM',
    moodCode: isPlanned(m) ? 'INT' : 'EVN',
    negationInd: negated ? 'true' : undefined,
  });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.16', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.16' });
  writeResourceId(w, ctx, m);
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: STATUS[m.status] ?? 'completed' });
  w.open('effectiveTime', { 'xsi:type': 'IVL_TS' });
  writeTs(w, 'low', start, 'UNK');
  const high = toHl7Ts(end);
  if (high) w.empty('high', { value: high });
  else if (!isPlanned(m)) w.empty('high', { nullFlavor: 'UNK' });
  w.close('effectiveTime');
  const repeat = dosage?.timing?.repeat;
  if (repeat?.period && repeat.periodUnit && PIVL_UNITS[repeat.periodUnit]) {
    const per = repeat.period / (repeat.frequency && repeat.frequency > 1 ? repeat.frequency : 1);
    w.open('effectiveTime', { 'xsi:type': 'PIVL_TS', institutionSpecified: 'true', operator: 'A' });
    w.empty('period', { value: decimalText(Number(per.toFixed(4))), unit: PIVL_UNITS[repeat.periodUnit] });
    w.close('effectiveTime');
  }
  if (dosage?.route) writeCode(w, 'routeCode', dosage.route);
  const dose = dosage?.doseAndRate?.[0]?.doseQuantity;
  if (dose?.value !== undefined)
    w.empty('doseQuantity', { value: decimalText(dose.value), unit: ucumUnit(dose) === '1' ? undefined : ucumUnit(dose) });
  else w.empty('doseQuantity', { nullFlavor: 'UNK' });
  w.open('consumable').open('manufacturedProduct', { classCode: 'MANU' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.23', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.23' });
  w.open('manufacturedMaterial');
  if (noKnown) w.empty('code', { nullFlavor: 'NA' });
  else if (hasNoInformation(drug)) w.empty('code', { nullFlavor: 'NI' });
  else writeCode(w, 'code', drug, { textRef: `${row.id}-name`, prefer: [RXNORM_URI, NDC_URI] });
  w.close('manufacturedMaterial');
  w.close('manufacturedProduct').close('consumable');
  if (m.resourceType === 'MedicationRequest') writeAuthorParticipation(w, ctx, m.requester, m.authoredOn);
  else writeAuthorParticipation(w, ctx, m.informationSource, m.dateAsserted);
  w.close('substanceAdministration');
}

/**
 * Names can carry a product code in front: an NDC ("NDC:0093-7180-01 Lisinopril 10 MG") or the FDA application
 * RxNorm puts on some packs ("NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector"). People read the drug.
 */
const NDC_PREFIX = /^\s*((NDC[\s:#-]*)?\d{4,5}-\d{3,4}-\d{1,2}|NDC[\s:#-]*\d{10,11}|A?NDA\d{6}|BLA\d{6})\s*[-:]?\s*/i;

/** The Medication cell: the drug's name without an NDC prefix, or "No information" when nothing names it. */
export function medicationName(cc: CodeableConcept | undefined): string {
  if (isNoKnown(cc)) return conceptText(cc);
  if (hasNoInformation(cc)) return NO_INFORMATION;
  const text = conceptText(cc);
  return text.replace(NDC_PREFIX, '') || text;
}

/** The Status cell in words: a drug not taken or not to be given says so. */
function medicationStatusWords(m: MedicationUse): string {
  if (m.resourceType === 'MedicationRequest' && m.doNotPerform) return 'Not to be given';
  if (m.status === 'not-taken') return 'Not taken';
  return m.status;
}

/** Medications Section (entries required) (V2). */
export const MEDICATIONS_SECTION: SectionDefinition<MedicationUse> = {
  key: 'medications',
  title: 'Medications',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.1.1', extension: '2014-06-09' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.1.1' }],
  loinc: { code: '10160-0', displayName: 'History of Medication use Narrative' },
  resourceTypes: ['MedicationRequest', 'MedicationStatement', 'Medication'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No information about medications is recorded for this period.',
  columns: [
    { header: 'Medication', cell: (m, ctx) => medicationName(medicationConcept(m, ctx)) },
    { header: 'Instructions', cell: (m) => dosageOf(m)?.text ?? '' },
    { header: 'Status', cell: medicationStatusWords },
    { header: 'Start', cell: (m) => displayDateTime(times(m).start) },
    { header: 'End', cell: (m) => displayDateTime(times(m).end) },
  ],
  rows: (data) =>
    newestFirst(
      [
        ...data.ofType<MedicationRequest>('MedicationRequest').filter((m) => m.intent !== 'proposal' || m.status === 'active'),
        ...data.ofType<MedicationStatement>('MedicationStatement'),
      ].filter((m) => !isEnteredInError(m)),
      (m) => times(m).start,
    ),
  writeEntries: onePerRow(writeMedicationActivity),
};
