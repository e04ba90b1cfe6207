import type { Device } from '@medplum/fhirtypes';
import { conceptText, writeCode, writeResourceId, writeTextRef } from '../src/ccda/render/cda-datatype-writers';
import { isEnteredInError } from '../src/ccda/render/fhir-read';
import { displayDateTime } from '../src/ccda/render/hl7-time';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

/** The FDA's root for Unique Device Identifiers. */
const FDA_UDI_ROOT = '2.16.840.1.113883.3.3719';

function udiOf(d: Device): string | undefined {
  const c = d.udiCarrier?.[0];
  return c?.carrierHRF ?? c?.deviceIdentifier;
}

function writeDevice(w: XmlWriter, row: NarrativeRow<Device>, ctx: RenderContext): void {
  const d = row.item;
  w.open('supply', { classCode: 'SPLY', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.50', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.50' });
  writeResourceId(w, ctx, d);
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: d.status === 'active' ? 'active' : 'completed' });
  w.open('participant', { typeCode: 'PRD' }).open('participantRole', { classCode: 'MANU' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.37' });
  const udi = udiOf(d);
  if (udi) w.empty('id', { root: FDA_UDI_ROOT, extension: udi });
  else writeResourceId(w, ctx, d, 'instance');
  w.open('playingDevice');
  writeCode(w, 'code', d.type, { textRef: `${row.id}-name`, prefer: ['http://snomed.info/sct'] });
  w.close('playingDevice');
  w.open('scopingEntity');
  w.empty('id', { root: FDA_UDI_ROOT });
  if (d.manufacturer) w.element('desc', d.manufacturer);
  w.close('scopingEntity');
  w.close('participantRole').close('participant');
  w.close('supply');
}

/** Medical Equipment Section (V2): the patient's devices with their UDI. */
export const MEDICAL_EQUIPMENT_SECTION: SectionDefinition<Device> = {
  key: 'equipment',
  title: 'Medical Equipment',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.23', extension: '2014-06-09' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.23' }],
  loinc: { code: '46264-8', displayName: 'History of medical device use' },
  resourceTypes: ['Device'],
  whenEmpty: 'narrative',
  emptyText: 'No medical equipment or implanted devices are recorded for this period.',
  columns: [
    { header: 'Device', cell: (d) => conceptText(d.type) || d.deviceName?.[0]?.name || 'Device' },
    { header: 'UDI', cell: (d) => udiOf(d) ?? '' },
    { header: 'Status', cell: (d) => d.status ?? '' },
    { header: 'Manufactured', cell: (d) => displayDateTime(d.manufactureDate) },
  ],
  rows: (data) => data.ofType<Device>('Device').filter((d) => !isEnteredInError(d)),
  writeEntries: onePerRow(writeDevice),
};
