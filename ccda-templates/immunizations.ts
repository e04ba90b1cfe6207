import type { Immunization } from '@medplum/fhirtypes';
import { conceptText, decimalText, ucumUnit, writeCode, writeResourceId, writeTextRef } from '../src/ccda/render/cda-datatype-writers';
import { writeAuthorParticipation } from '../src/ccda/render/author-participation';
import { isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { displayDateTime, toHl7Ts } from '../src/ccda/render/hl7-time';
import { NO_INFORMATION, hasNoInformation, isNoKnown } from '../src/ccda/render/clinical-assertion';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

const CVX_URI = 'http://hl7.org/fhir/sid/cvx';

function writeImmunization(w: XmlWriter, row: NarrativeRow<Immunization>, ctx: RenderContext): void {
  const i = row.item;
  // "No known immunizations" is a negated activity whose vaccine code is nullFlavor NA, like a dose not given.
  const noKnown = isNoKnown(i.vaccineCode);
  const notDone = noKnown || i.status === 'not-done';
  w.open('substanceAdministration', { classCode: 'SBADM', moodCode: 'EVN', negationInd: notDone ? 'true' : 'false' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.52', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.52' });
  writeResourceId(w, ctx, i);
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: 'completed' });
  const t = toHl7Ts(i.occurrenceDateTime ?? i.recorded);
  w.empty('effectiveTime', t ? { value: t } : { nullFlavor: 'UNK' });
  if (i.route) writeCode(w, 'routeCode', i.route);
  if (i.doseQuantity?.value !== undefined) {
    const unit = ucumUnit(i.doseQuantity);
    w.empty('doseQuantity', { value: decimalText(i.doseQuantity.value), unit: unit === '1' ? undefined : unit });
  }
  w.open('consumable').open('manufacturedProduct', { classCode: 'MANU' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.54', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.54' });
  w.open('manufacturedMaterial');
  if (noKnown) w.empty('code', { nullFlavor: 'NA' });
  else if (hasNoInformation(i.vaccineCode)) w.empty('code', { nullFlavor: 'NI' });
  else writeCode(w, 'code', i.vaccineCode, { textRef: `${row.id}-name`, prefer: [CVX_URI] });
  if (i.lotNumber) w.element('lotNumberText', i.lotNumber);
  w.close('manufacturedMaterial');
  const maker = i.manufacturer?.display;
  if (maker) w.open('manufacturerOrganization').element('name', maker).close('manufacturerOrganization');
  w.close('manufacturedProduct').close('consumable');
  writeAuthorParticipation(w, ctx, i.performer?.[0]?.actor, i.recorded ?? i.occurrenceDateTime);
  w.close('substanceAdministration');
}

/** Immunizations Section (entries required) (V3). */
export const IMMUNIZATIONS_SECTION: SectionDefinition<Immunization> = {
  key: 'immunizations',
  title: 'Immunizations',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.2.1', extension: '2015-08-01' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.2.1' }],
  loinc: { code: '11369-6', displayName: 'History of Immunization Narrative' },
  resourceTypes: ['Immunization'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No immunizations are recorded for this period.',
  columns: [
    {
      header: 'Vaccine',
      cell: (i) => (isNoKnown(i.vaccineCode) || !hasNoInformation(i.vaccineCode) ? conceptText(i.vaccineCode) : NO_INFORMATION),
    },
    { header: 'Status', cell: (i) => (isNoKnown(i.vaccineCode) ? 'None known' : i.status === 'not-done' ? 'Not given' : i.status) },
    { header: 'Date', cell: (i) => displayDateTime(i.occurrenceDateTime ?? i.recorded) },
    { header: 'Lot', cell: (i) => i.lotNumber ?? '' },
  ],
  rows: (data) =>
    newestFirst(
      data.ofType<Immunization>('Immunization').filter((i) => !isEnteredInError(i)),
      (i) => i.occurrenceDateTime ?? i.recorded,
    ),
  writeEntries: onePerRow(writeImmunization),
};
