/**
 * Patient/{id}/$transmit (POST; parameters email, confirmEmail, start, end, format xdm|ccda): the "Transmit" of ONC
 * 170.315(e)(1). The patient's record for one date, a date range or all time, as $ccda renders it, goes by email to
 * the provider address given (typed twice, as the portal asks), as an IHE XDM zip (the default: the package XDM
 * defines for email) or the C-CDA XML. Whoever sends it gets a notice naming the address, and the sending is in the
 * patient's activity history (an AuditEvent of the $transmit operation whose destination agent is the address),
 * whoever did it. It needs full access, as $ccda does; each account may send a few per hour (the request throttle).
 */
import type { Patient } from '@medplum/fhirtypes';
import { hasFullAccess } from '../../access/full-access';
import { isAccountCaller } from '../../access/caller';
import { organizationNameOf, patientFirstName, serviceLink } from '../../auth/account-context';
import { parseDocumentPeriod } from '../../ccda/period/parse-document-period';
import { sendAccountMail } from '../../auth/account-mail';
import type { AccountServices } from '../account-services';
import { AccountStore, isValidEmail, normalizeEmail } from '../../auth/account-store';
import { ThrottleStore } from '../../auth/throttle-store';
import { renderCcdForPatient } from './ccd-for-patient';
import { formatCalendarDate } from '../../mail/templates/email-layout';
import { recordForProviderEmail, recordSentNoticeEmail } from '../../mail/templates/record-transmit-email';
import { badRequest, forbidden } from '../../fhir/outcomes';
import { parametersResult } from '../operation-support';
import { periodInFileName } from './ccda-export-operation';
import type { FhirOperation } from '../../fhir/operations/operation';

export function transmitOperation(services: AccountServices): FhirOperation {
  const context = services.context;
  return {
    info: { name: 'transmit', resourceType: 'Patient', definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-transmit' },
    level: 'instance',
    methods: ['POST'],
    async handle({ repo, caller, id, params }) {
      const recipient = recipientOf(params.email, params.confirmEmail);
      const format = formatOf(params.format);
      parseDocumentPeriod(params.start, params.end); // a bad period is a 400 before the throttle counts anything
      const patient = await repo.read<Patient>('Patient', id as string);
      if (!hasFullAccess(repo.context.scope, patient.id as string)) {
        throw forbidden('Sending the record sends the whole clinical record; it needs full access to the patient');
      }
      await new ThrottleStore(context.db, context.clock).consume(
        [{ key: `transmit:${caller.kind}:${caller.subject}`, policy: context.throttles.requestAccount }],
        'records sent',
      );
      const { xml, zip, input } = await repo.asOperation(
        '$transmit',
        () =>
          renderCcdForPatient(
            repo,
            patient.id as string,
            params.start,
            params.end,
            format === 'xdm' ? { xdm: { timeZone: context.timeZone } } : {},
          ),
        { recipient },
      );
      const dates = input.period;
      // The file's name travels in the mail's headers: it says what, never whose (no patient id, no name).
      const fileBase = `health-record-${periodInFileName(dates)}`;
      const file =
        format === 'xdm'
          ? {
              filename: `${fileBase}.zip`,
              contentType: 'application/zip',
              content: zip!,
            }
          : { filename: `${fileBase}.xml`, contentType: 'application/xml', content: Buffer.from(xml, 'utf8') };
      const about = {
        organizationName: organizationNameOf(patient),
        period: periodInWords(dates?.start, dates?.end),
        sentAt: context.clock.now(),
        timeZone: context.timeZone,
      };
      const toProvider = recordForProviderEmail({ ...about, fileName: file.filename, format });
      await sendAccountMail(context, recipient, toProvider, [file]);
      // The notice goes to the sender's own address: a transmission they did not make is then noticed at once.
      const sender = isAccountCaller(caller) ? await new AccountStore(context.db, context.clock).findById(caller.account.id) : undefined;
      if (sender) {
        const own = sender.patient_id === patient.id;
        const notice = recordSentNoticeEmail({
          ...about,
          recipient,
          whose: own ? undefined : (patientFirstName(patient) ?? 'the patient'),
          activityUrl: serviceLink(context, 'activity', { patient: patient.id as string }),
        });
        // The record went out: a notice that fails to go is logged, not turned into an error that invites sending again.
        await sendAccountMail(context, sender.email, notice).catch(() => undefined);
      }
      return parametersResult({ sentTo: recipient, fileName: file.filename, format, start: dates?.start, end: dates?.end });
    },
  };
}

/** The provider's address, typed twice; both must be the same single address. */
function recipientOf(email: string | undefined, confirmEmail: string | undefined): string {
  if (!email?.trim()) throw badRequest('email is required: the provider address to send the record to', 'email');
  if (!isValidEmail(email)) throw badRequest(`email must be one email address, got "${email}"`, 'email');
  if (!confirmEmail?.trim()) throw badRequest('confirmEmail is required: type the provider address a second time', 'confirmEmail');
  if (normalizeEmail(email) !== normalizeEmail(confirmEmail)) {
    throw badRequest('email and confirmEmail differ: type the same provider address twice', 'confirmEmail');
  }
  return normalizeEmail(email);
}

function formatOf(format: string | undefined): 'xdm' | 'ccda' {
  const value = (format ?? 'xdm').trim().toLowerCase();
  if (value === 'xdm' || value === 'zip' || value === 'application/zip') return 'xdm';
  if (value === 'ccda' || value === 'xml' || value === 'application/xml' || value === 'application/cda+xml') return 'ccda';
  throw badRequest(`format must be xdm (an IHE XDM zip, the default) or ccda (the C-CDA XML), got "${format}"`, 'format');
}

function periodInWords(start: string | undefined, end: string | undefined): string {
  if (!start && !end) return 'all dates';
  if (start && end && start === end) return formatCalendarDate(start);
  if (start && end) return `${formatCalendarDate(start)} to ${formatCalendarDate(end)}`;
  return start ? `from ${formatCalendarDate(start)}` : `until ${formatCalendarDate(end as string)}`;
}
