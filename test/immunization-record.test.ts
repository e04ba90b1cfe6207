/**
 * Patient/{id}/$immunization-record: the vaccination record as a PDF to print, for whoever may see the patient's
 * clinical record, listed in the patient's activity history; the demo family's vaccines read back out of the PDF.
 */
import type { AuditEvent, Bundle, Immunization, Patient } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { renderVaccinationPdf, vaccinationRows } from '../src/portal/immunizations/immunization-record-operation';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';

/** The text runs pdfkit wrote (uncompressed content streams: `[<hex> kerning <hex>] TJ`), one string per run. */
function pdfTextRuns(pdf: Buffer): string[] {
  const runs: string[] = [];
  for (const m of pdf.toString('latin1').matchAll(/\[([^\]]*)\]\s*TJ/g)) {
    runs.push([...m[1].matchAll(/<([0-9a-fA-F]*)>/g)].map((h) => Buffer.from(h[1], 'hex').toString('latin1')).join(''));
  }
  return runs;
}

describe('Patient/$immunization-record', () => {
  let app: AuthTestApp;
  let ada: { token: string; patientId: string };
  let ids: Record<'ben' | 'cara', string>;

  beforeAll(async () => {
    app = await startAuthTestApp();
    const session = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
    ada = { token: session.access_token, patientId: session.account.patientId };
    const all = await app.system.searchResources<Patient>('Patient', { _count: '100' });
    const idOf = (given: string) => all.find((p) => p.name?.[0]?.given?.[0] === given)!.id!;
    ids = { ben: idOf('Ben'), cara: idOf('Cara') };
  });
  afterAll(() => app?.close());

  async function pdfOf(patientId: string, token = ada.token): Promise<{ status: number; type: string | null; body: Buffer }> {
    const res = await fetch(`${app.url}/fhir/Patient/${patientId}/$immunization-record`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
  }

  it('prints every dose Ada was given, newest first, with its CVX code, lot and who gave it', async () => {
    const res = await pdfOf(ada.patientId);
    expect([res.status, res.type]).toEqual([200, 'application/pdf']);
    expect(res.body.subarray(0, 5).toString()).toBe('%PDF-');
    const runs = pdfTextRuns(res.body);
    expect(runs.slice(0, 3)).toEqual(['Vaccination record', expect.any(String), 'Ada Park']);

    const immunizations = await app.system.searchResources<Immunization>('Immunization', {
      patient: `Patient/${ada.patientId}`,
      _count: '1000',
    });
    const { given } = vaccinationRows(immunizations);
    expect(given.length).toBe(immunizations.filter((i) => i.status === 'completed').length);
    expect(given.length).toBeGreaterThanOrEqual(5);
    // Newest first, and each dose's date, vaccine with CVX code and lot are printed in that order.
    expect(given.map((r) => r.date)).toEqual([...given.map((r) => r.date)].sort().reverse());
    // A long vaccine name wraps into several runs: read the page as one line of words.
    const printed = runs.join(' ').replace(/\s+/g, ' ');
    let from = 0;
    for (const row of given) {
      const at = printed.indexOf(row.date, from);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(printed.indexOf(`${row.vaccine} (${row.cvx})`, at)).toBeGreaterThan(at);
      if (row.lot) expect(printed.indexOf(row.lot, at)).toBeGreaterThan(at);
      from = at + 1;
    }
    expect(given.every((r) => r.cvx && r.givenBy)).toBe(true);
  });

  it('is in Ada’s activity history, as a download', async () => {
    const res = await app.call('GET', `/fhir/AuditEvent?patient=Patient/${ada.patientId}&_count=1000`, { token: ada.token });
    const events = ((res.body as Bundle).entry ?? []).map((e) => e.resource as AuditEvent);
    const downloads = events.filter((e) => e.entity?.[0]?.detail?.some((d) => d.valueString === '$immunization-record'));
    expect(downloads.map((e) => e.agent?.[0]?.who?.reference)).toContain(`Patient/${ada.patientId}`);
  });

  it('a record without vaccinations prints plainly, and its download is in the history all the same', async () => {
    const { managingOrganization } = await app.system.read<Patient>('Patient', ada.patientId);
    const { resource: newborn } = await app.system.create<Patient>({
      resourceType: 'Patient',
      name: [{ given: ['Noor'], family: 'Park' }],
      birthDate: '2026-11-01',
      managingOrganization,
    });
    const staff = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
    const res = await pdfOf(newborn.id!, staff);
    expect(res.status).toBe(200);
    expect(pdfTextRuns(res.body)).toContain('No vaccinations are on record.');
    const events = await app.system.searchResources<AuditEvent>('AuditEvent', { patient: `Patient/${newborn.id}` });
    expect(events.filter((e) => e.entity?.[0]?.detail?.some((d) => d.valueString === '$immunization-record'))).toHaveLength(1);
  });

  it('needs full access: Ada prints Ben’s (9), not Cara’s (15, billing only); staff print Cara’s', async () => {
    const ben = await pdfOf(ids.ben);
    expect(ben.status).toBe(200);
    expect(pdfTextRuns(ben.body)).toContain('Ben Park');
    const cara = await pdfOf(ids.cara);
    expect(cara.status).toBe(403);
    expect(outcomeText(JSON.parse(cara.body.toString()))).toBe(
      'The vaccination record is clinical data; it needs full access to the patient',
    );
    const staff = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
    expect((await pdfOf(ids.cara, staff)).status).toBe(200);
    expect((await pdfOf('no-such-patient')).status).toBe(404);
  });

  it('lists doses recorded as not given apart, and leaves out entries in error', () => {
    const rows = vaccinationRows([
      {
        resourceType: 'Immunization',
        status: 'not-done',
        patient: { reference: 'Patient/x' },
        vaccineCode: { text: 'HPV' },
        occurrenceDateTime: '2026-02-01',
      },
      {
        resourceType: 'Immunization',
        status: 'entered-in-error',
        patient: { reference: 'Patient/x' },
        vaccineCode: { text: 'MMR' },
        occurrenceDateTime: '2026-01-01',
      },
      {
        resourceType: 'Immunization',
        status: 'completed',
        patient: { reference: 'Patient/x' },
        vaccineCode: { text: 'Tdap' },
        occurrenceDateTime: '2025-05-01',
        primarySource: false,
        reportOrigin: { text: 'Pharmacy record' },
        protocolApplied: [{ doseNumberPositiveInt: 1, seriesDosesPositiveInt: 1 }],
      },
    ]);
    expect(rows.given).toEqual([{ date: '2025-05-01', vaccine: 'Tdap', dose: '1 of 1', givenBy: 'reported (Pharmacy record)' }]);
    expect(rows.notGiven.map((r) => r.vaccine)).toEqual(['HPV']);
  });

  it('repeats the column headers and the patient’s name on every page of a long record', async () => {
    const patient: Patient = { resourceType: 'Patient', id: 'long', name: [{ given: ['Lena'], family: 'Marsh' }], birthDate: '2010-04-02' };
    const doses: Immunization[] = Array.from({ length: 160 }, (_, i) => ({
      resourceType: 'Immunization',
      status: 'completed',
      patient: { reference: 'Patient/long' },
      vaccineCode: { text: `Vaccine number ${i + 1}` },
      occurrenceDateTime: `20${String(10 + Math.floor(i / 12)).padStart(2, '0')}-${String((i % 12) + 1).padStart(2, '0')}-01`,
      lotNumber: `LOT${i}`,
    }));
    const pdf = await renderVaccinationPdf(patient, doses, new Date('2026-11-21T12:00:00Z'), 'America/Los_Angeles');
    const pages = pdf.toString('latin1').match(/\/Type \/Page\b/g)?.length ?? 0;
    expect(pages).toBeGreaterThanOrEqual(3);
    const runs = pdfTextRuns(pdf);
    expect(runs.filter((r) => r === 'Vaccine (CVX)')).toHaveLength(pages);
    expect(runs.filter((r) => r === 'Lena Marsh')).toHaveLength(pages);
    expect(runs.filter((r) => r.includes('Vaccination record (continued)'))).toHaveLength(pages - 1);
  });
});
