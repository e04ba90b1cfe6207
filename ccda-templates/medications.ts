import type { CodeableConcept, Dosage, Medication, MedicationRequest, MedicationStatement } from '@medplum/fhirtypes';
import { conceptText, decimalText, writeCode, writeResourceId, writeTextRef, writeTs, ucumUnit } from '../src/ccda/render/cda-datatype-writers';
import { writeAuthorParticipation } from '../src/ccda/render/author-participation';
import { isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { displayDateTime, toHl7Ts } from '../src/ccda/render/hl7-time';
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

function writeMedicationActivity(w: XmlWriter, row: NarrativeRow<MedicationUse>, ctx: RenderContext): void {
  const m = row.item;
  const dosage = dosageOf(m);
  const { start, end } = times(m);
  w.open('substanceAdministration', { classCode: 'SBADM', moodCode: isPlanned(m) ? 'INT' : 'EVN' });
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
  if (dose?.value !== undefined) w.empty('doseQuantity', { value: decimalText(dose.value), unit: ucumUnit(dose) === '1' ? undefined : ucumUnit(dose) });
  else w.empty('doseQuantity', { nullFlavor: 'UNK' });
  w.open('consumable').open('manufacturedProduct', { classCode: 'MANU' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.23', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.23' });
  w.open('manufacturedMaterial');
  writeCode(w, 'code', medicationConcept(m, ctx), { textRef: `${row.id}-name`, prefer: [RXNORM_URI, NDC_URI] });
  w.close('manufacturedMaterial');
  w.close('manufacturedProduct').close('consumable');
  if (m.resourceType === 'MedicationRequest') writeAuthorParticipation(w, ctx, m.requester, m.authoredOn);
  else writeAuthorParticipation(w, ctx, m.informationSource, m.dateAsserted);
  w.close('substanceAdministration');
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
    { header: 'Medication', cell: (m, ctx) => conceptText(medicationConcept(m, ctx)) || 'Unknown medication' },
    { header: 'Instructions', cell: (m) => dosageOf(m)?.text ?? '' },
    { header: 'Status', cell: (m) => m.status },
    { header: 'Start', cell: (m) => displayDateTime(times(m).start) },
    { header: 'End', cell: (m) => displayDateTime(times(m).end) },
  ],
  rows: (data) =>
    newestFirst(
      [
        ...data.ofType<MedicationRequest>('MedicationRequest').filter((m) => m.intent !== 'proposal' || m.status === 'active'),
        ...data.ofType<MedicationStatement>('MedicationStatement'),
      ].filter((m) => !isEnteredInError(m)),
      (m) => times(m).start
    ),
  writeEntries: onePerRow(writeMedicationActivity),
};
