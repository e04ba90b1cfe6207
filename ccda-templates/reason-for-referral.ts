import type { ServiceRequest } from '@medplum/fhirtypes';
import { conceptText } from '../src/ccda/render/cda-datatype-writers';
import { isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { displayDateTime } from '../src/ccda/render/hl7-time';
import { isReferral } from './plan-of-treatment';
import type { SectionDefinition } from './section-definition';

/** Reason for Referral Section (V2): narrative only, present when the period holds a referral. */
export const REASON_FOR_REFERRAL_SECTION: SectionDefinition<ServiceRequest> = {
  key: 'referral',
  title: 'Reason for Referral',
  templateId: { root: '1.3.6.1.4.1.19376.1.5.3.1.3.1', extension: '2014-06-09' },
  compatibleTemplateIds: [{ root: '1.3.6.1.4.1.19376.1.5.3.1.3.1' }],
  loinc: { code: '42349-1', displayName: 'Reason for referral (narrative)' },
  resourceTypes: ['ServiceRequest'],
  whenEmpty: 'omit',
  emptyText: 'No referrals are recorded for this period.',
  columns: [
    { header: 'Reason', cell: (s) => (s.reasonCode ?? []).map(conceptText).join('; ') || conceptText(s.code) },
    {
      header: 'Referred to',
      cell: (s) =>
        (s.performer ?? [])
          .map((p) => p.display ?? '')
          .filter(Boolean)
          .join(', '),
    },
    { header: 'Note', cell: (s) => (s.note ?? []).map((n) => n.text).join(' ') },
    { header: 'Date', cell: (s) => displayDateTime(s.authoredOn) },
  ],
  rows: (data) =>
    newestFirst(
      data.ofType<ServiceRequest>('ServiceRequest').filter((s) => !isEnteredInError(s) && isReferral(s) && s.status !== 'revoked'),
      (s) => s.authoredOn,
    ),
  writeEntries: () => undefined,
};
