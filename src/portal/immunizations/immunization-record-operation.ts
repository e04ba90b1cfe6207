/**
 * Patient/{id}/$immunization-record: the patient's vaccination record as a PDF to print (the seed's "To Print the
 * Vaccination Record": My Health, Vaccinations, Print). Every dose given or reported (status completed), newest
 * first: date, vaccine (with its CVX code), dose number in the series, lot, site and route, and who gave it or where
 * it was reported from; doses recorded as not given are listed apart. It shows what the caller may see: a
 * billing-only view has no vaccinations, so it gets 403, as $ccda does. It is in the patient's activity history
 * whoever downloads it, the patient included (a download, audit-trail.ts).
 */
import type { CodeableConcept, Immunization, Patient } from '@medplum/fhirtypes';
import PDFDocument from 'pdfkit';
import { hasFullAccess } from '../../access/full-access';
import { organizationNameOf, patientDisplayName } from '../../auth/account-context';
import { formatCalendarDate } from '../../mail/templates/email-layout';
import { forbidden } from '../../fhir/outcomes';
import type { Repository } from '../../fhir/repository';
import type { FhirOperation } from '../../fhir/operations/operation';

const CVX = 'http://hl7.org/fhir/sid/cvx';

/** One row of the printed table. */
export interface VaccinationRow {
  readonly date: string;
  readonly vaccine: string;
  readonly cvx?: string;
  readonly dose?: string;
  readonly lot?: string;
  readonly siteRoute?: string;
  readonly givenBy?: string;
}

/** `timeZone`: the organization's, for the printed date. */
export function immunizationRecordOperation(timeZone: string): FhirOperation {
  return {
    info: {
      name: 'immunization-record',
      resourceType: 'Patient',
      definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-immunization-record',
    },
    level: 'instance',
    methods: ['GET'],
    async handle({ repo, id }) {
      // The Patient is read inside the operation, so even a record without vaccinations leaves its download in the
      // activity history.
      const { patient, immunizations } = await repo.asOperation('$immunization-record', async () => {
        const patient = await repo.read<Patient>('Patient', id as string);
        if (!hasFullAccess(repo.context.scope, patient.id as string)) {
          throw forbidden('The vaccination record is clinical data; it needs full access to the patient');
        }
        return { patient, immunizations: await allImmunizations(repo, patient.id as string) };
      });
      const pdf = await renderVaccinationPdf(patient, immunizations, repo.context.clock.now(), timeZone);
      return {
        kind: 'content',
        contentType: 'application/pdf',
        body: pdf,
        headers: { 'Content-Disposition': `inline; filename="vaccination-record-${patient.id}.pdf"` },
      };
    },
  };
}

/** The rows of a vaccination record: doses given (completed) and doses not given, each newest first. */
export function vaccinationRows(immunizations: readonly Immunization[]): { given: VaccinationRow[]; notGiven: VaccinationRow[] } {
  const byDateDesc = (a: Immunization, b: Immunization) => dateOf(b).localeCompare(dateOf(a));
  const row = (imm: Immunization): VaccinationRow => {
    const dose = imm.protocolApplied?.[0];
    const doseNumber = dose?.doseNumberPositiveInt ?? dose?.doseNumberString;
    const series = dose?.seriesDosesPositiveInt ?? dose?.seriesDosesString;
    const siteRoute = [textOf(imm.site), textOf(imm.route)].filter(Boolean).join(', ');
    const performer = imm.performer?.[0]?.actor?.display;
    const source = imm.primarySource === false ? `reported${textOf(imm.reportOrigin) ? ` (${textOf(imm.reportOrigin)})` : ''}` : undefined;
    return {
      date: imm.occurrenceDateTime ? imm.occurrenceDateTime.slice(0, 10) : dateOf(imm),
      vaccine: textOf(imm.vaccineCode) ?? 'Unnamed vaccine',
      cvx: imm.vaccineCode?.coding?.find((c) => c.system === CVX)?.code,
      dose: doseNumber !== undefined ? `${doseNumber}${series !== undefined ? ` of ${series}` : ''}` : undefined,
      lot: imm.lotNumber,
      siteRoute: siteRoute || undefined,
      givenBy: [performer, imm.location?.display, source].filter(Boolean).join(', ') || undefined,
    };
  };
  return {
    given: immunizations
      .filter((i) => i.status === 'completed')
      .sort(byDateDesc)
      .map(row),
    notGiven: immunizations
      .filter((i) => i.status === 'not-done')
      .sort(byDateDesc)
      .map(row),
  };
}

/** Renders the record (US Letter, Helvetica); the creation date is the clock's, so the same record prints the same. */
export function renderVaccinationPdf(
  patient: Patient,
  immunizations: readonly Immunization[],
  now: Date,
  timeZone: string,
): Promise<Buffer> {
  const { given, notGiven } = vaccinationRows(immunizations);
  const doc = new PDFDocument({
    size: 'LETTER',
    margin: 54,
    compress: false,
    info: {
      Title: `Vaccination record: ${patientDisplayName(patient)}`,
      Author: organizationNameOf(patient),
      Creator: 'Chartkeeper',
      CreationDate: now,
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  // Pages after the first say whose record they are: a printed page must not be mistaken for another patient's.
  doc.on('pageAdded', () => {
    doc.font('Helvetica-Bold').fontSize(10).fillColor('#000').text(patientDisplayName(patient), { continued: true });
    doc
      .font('Helvetica')
      .fillColor('#444')
      .text(`   ${patient.birthDate ? `born ${formatCalendarDate(patient.birthDate)} · ` : ''}Vaccination record (continued)`);
    doc.fillColor('#000').moveDown(0.6);
  });
  doc.font('Helvetica-Bold').fontSize(16).text('Vaccination record');
  doc.font('Helvetica').fontSize(10).fillColor('#444').text(organizationNameOf(patient));
  doc.moveDown(0.8).fillColor('#000').fontSize(11);
  doc.font('Helvetica-Bold').text(patientDisplayName(patient), { continued: true }).font('Helvetica');
  doc.text(patient.birthDate ? `   born ${formatCalendarDate(patient.birthDate)}` : '');
  const printed = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone }).format(now);
  doc.fontSize(9).fillColor('#444').text(`Printed ${printed}. Doses given or reported to the practice, newest first.`);
  doc.fillColor('#000').moveDown(0.8);

  table(doc, given, 'No vaccinations are on record.');
  if (notGiven.length) {
    doc.moveDown(1).font('Helvetica-Bold').fontSize(11).text('Recorded as not given');
    doc.moveDown(0.3);
    table(doc, notGiven, '');
  }
  doc.end();
  return done;
}

const COLUMNS: readonly { readonly key: keyof VaccinationRow; readonly title: string; readonly width: number }[] = [
  { key: 'date', title: 'Date', width: 62 },
  { key: 'vaccine', title: 'Vaccine (CVX)', width: 150 },
  { key: 'dose', title: 'Dose', width: 40 },
  { key: 'lot', title: 'Lot', width: 62 },
  { key: 'siteRoute', title: 'Site, route', width: 90 },
  { key: 'givenBy', title: 'Given by / where', width: 100 },
];

function table(doc: PDFKit.PDFDocument, rows: readonly VaccinationRow[], empty: string): void {
  const left = doc.page.margins.left;
  const cell = (row: VaccinationRow, key: keyof VaccinationRow): string => {
    if (key === 'date') return row.date;
    if (key === 'vaccine') return row.cvx ? `${row.vaccine} (${row.cvx})` : row.vaccine;
    return row[key] ?? '';
  };
  const titles = COLUMNS.map((c) => c.title);
  const line = (values: string[], bold: boolean): void => {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(8.5);
    const heights = values.map((value, i) => doc.heightOfString(value, { width: COLUMNS[i].width - 6 }));
    const height = Math.max(...heights) + 4;
    if (doc.y + height > doc.page.height - doc.page.margins.bottom) {
      // A new page repeats the column headers above the rows it continues.
      doc.addPage();
      if (!bold) line(titles, true);
      doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(8.5);
    }
    const top = doc.y;
    let x = left;
    values.forEach((value, i) => {
      doc.text(value, x, top, { width: COLUMNS[i].width - 6 });
      x += COLUMNS[i].width;
    });
    doc.x = left;
    doc.y = top + height;
    doc
      .moveTo(left, doc.y - 2)
      .lineTo(left + COLUMNS.reduce((w, c) => w + c.width, 0), doc.y - 2)
      .strokeColor('#ccc')
      .lineWidth(0.5)
      .stroke();
  };
  if (!rows.length) {
    if (empty) doc.font('Helvetica').fontSize(10).text(empty);
    return;
  }
  line(titles, true);
  for (const row of rows)
    line(
      COLUMNS.map((c) => cell(row, c.key)),
      false,
    );
}

/** Every Immunization of the patient the caller may see, page after page (a record is never cut short). */
async function allImmunizations(repo: Repository, patientId: string): Promise<Immunization[]> {
  const out: Immunization[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await repo.searchResources<Immunization>('Immunization', {
      patient: `Patient/${patientId}`,
      _count: String(PAGE),
      _offset: String(offset),
      _sort: '_id',
    });
    out.push(...page);
    if (page.length < PAGE) return out;
  }
}

const PAGE = 1000;

function dateOf(imm: Immunization): string {
  return imm.occurrenceDateTime ?? imm.occurrenceString ?? imm.recorded ?? '';
}

function textOf(concept: CodeableConcept | undefined): string | undefined {
  return concept?.text ?? concept?.coding?.find((c) => c.display)?.display ?? concept?.coding?.[0]?.code;
}
