/**
 * Statements (issue 18, "Statements" and "Proof"): an Invoice with real amounts, Account/Patient $balance from issued
 * Invoices and recorded payments, Invoice/$statement as a PDF read back with pdftotext (amounts, no diagnosis text),
 * "a statement is available" emails to the patient and every family member with billing or full access (none to Dan),
 * and nothing clinical through a statement for a billing-only reader.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Account, AuditEvent, Bundle, ChargeItem, Invoice, Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { billingNoticeJob } from '../src/jobs/billing-notice-job';
import type { JobDeps } from '../src/jobs/job-deps';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';
import { appJobDeps } from './support/app-job-deps';

const ADA = DEMO_PEOPLE.ada.email as string;
const CARA = DEMO_PEOPLE.cara.email as string;
const DAN = DEMO_PEOPLE.dan.email as string;

/** The words of Cara's chart that a statement must never carry: her diagnosis, its code, the reason for the visit. */
const CLINICAL = /asthma|J45|wheez|albuterol|inhaler/i;

function hasPdftotext(): boolean {
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The PDF's text as pdftotext reads it (one line per printed line, layout kept). */
function pdfText(pdf: Buffer): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'statement-'));
  try {
    writeFileSync(path.join(dir, 'statement.pdf'), pdf);
    return execFileSync('pdftotext', ['-layout', path.join(dir, 'statement.pdf'), '-'], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Seeding the demo family and signing in on a machine shared with other suites can take more than jest's minute.
jest.setTimeout(180_000);

describe('statements', () => {
  let app: AuthTestApp;
  let deps: JobDeps;
  let tokens: Record<'ada' | 'cara' | 'dan' | 'staff', string>;
  let ids: Record<'ada' | 'ben' | 'cara', string>;
  let caraInvoice: Invoice;
  let accounts: Record<'ada' | 'cara', Account>;

  beforeAll(async () => {
    app = await startAuthTestApp();
    deps = appJobDeps(app);
    tokens = {
      ada: (await app.login(ADA, DEMO_PASSWORD)).access_token,
      cara: (await app.login(CARA, DEMO_PASSWORD)).access_token,
      dan: (await app.login(DAN, DEMO_PASSWORD)).access_token,
      staff: (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token,
    };
    const patients = await app.system.searchResources<Patient>('Patient', { _count: '100' });
    const idOf = (given: string) => patients.find((p) => p.name?.[0]?.given?.[0] === given)!.id!;
    ids = { ada: idOf('Ada'), ben: idOf('Ben'), cara: idOf('Cara') };
    [caraInvoice] = await app.system.searchResources<Invoice>('Invoice', { patient: `Patient/${ids.cara}`, status: 'issued' });
    const accountOf = async (id: string) => (await app.system.searchResources<Account>('Account', { patient: `Patient/${id}` }))[0];
    accounts = { ada: await accountOf(ids.ada), cara: await accountOf(ids.cara) };
  });
  afterAll(() => app?.close());

  const balance = (body: any): number => body.parameter.find((p: any) => p.name === 'balance').valueMoney.value;

  it('Account/$balance and Patient/$balance: what the patient owes now, per Account, from issued Invoices and recorded payments', async () => {
    // Ada owes 25.00 (follow-up) + 12.60 (labs); her settled COVID visit's 25.00 share was paid at the desk.
    const own = await app.call('GET', `/fhir/Account/${accounts.ada.id}/$balance`, { token: tokens.ada });
    expect([own.status, balance(own.body)]).toEqual([200, 37.6]);
    const parts = own.body.parameter
      .filter((p: any) => p.name === 'invoice')
      .map((p: any) => Object.fromEntries(p.part.map((x: any) => [x.name, x.valueMoney?.value ?? x.valueReference?.reference])));
    expect(parts.map((p: any) => [p.charges, p.insurerPaid, p.adjustments, p.patientResponsibility, p.patientPaid, p.balance])).toEqual([
      [406, 350, 56, 0, 0, 0],
      [145, 95, 25, 25, 25, 0],
      [441, 380, 61, 0, 0, 0],
      [145, 95, 25, 25, 0, 25],
      [121, 90.4, 18, 12.6, 0, 12.6],
    ]);
    const byPatient = await app.call('GET', `/fhir/Patient/${ids.ada}/$balance`, { token: tokens.dan });
    expect(byPatient.status).toBe(200);
    expect(byPatient.body.parameter.map((p: any) => [p.name, p.part[0].valueReference.reference, balance({ parameter: p.part })])).toEqual([
      ['account', `Account/${accounts.ada.id}`, 37.6],
    ]);
    // Ada holds Cara's billing: she sees what Cara owes. Dan holds only Ada's record.
    expect(balance((await app.call('GET', `/fhir/Account/${accounts.cara.id}/$balance`, { token: tokens.ada })).body)).toBe(25);
    expect(balance((await app.call('GET', `/fhir/Account/${accounts.cara.id}/$balance`, { token: tokens.cara })).body)).toBe(25);
    expect((await app.call('GET', `/fhir/Account/${accounts.cara.id}/$balance`, { token: tokens.dan })).status).toBe(404);
    expect((await app.call('GET', `/fhir/Patient/${ids.cara}/$balance`, { token: tokens.dan })).status).toBe(404);
    const unknown = await app.call('GET', `/fhir/Account/${accounts.cara.id}/$balance?since=2020`, { token: tokens.ada });
    expect([unknown.status, outcomeText(unknown.body)]).toEqual([400, '$balance takes no parameters (got since)']);
  });

  it('Cara’s statement PDF read back with pdftotext shows amounts and no diagnosis text', async () => {
    if (!hasPdftotext()) {
      console.warn('skipped: pdftotext (poppler-utils) is not installed');
      return;
    }
    for (const who of ['ada', 'cara', 'staff'] as const) {
      const res = await fetch(`${app.url}/fhir/Invoice/${caraInvoice.id}/$statement`, {
        headers: { authorization: `Bearer ${tokens[who]}` },
      });
      expect([who, res.status, res.headers.get('content-type')]).toEqual([who, 200, 'application/pdf']);
      const text = pdfText(Buffer.from(await res.arrayBuffer())).replace(/[ \t]+/g, ' ');
      expect(text).toContain('Statement');
      expect(text).toContain('Westside Family Medicine');
      expect(text).toContain('Patient: Cara Park');
      expect(text).toContain(`Statement number: ${caraInvoice.identifier![0].value}`);
      expect(text).toMatch(/Dr\. Maya Chen|Maya Chen/);
      expect(text).toContain('99213 Office or other outpatient visit');
      expect(text).toContain('$145.00');
      for (const line of [
        'Total charges: $145.00',
        'Insurance payments: -$95.00',
        'Insurance adjustments: -$25.00',
        'Patient responsibility: $25.00',
        'Balance due: $25.00',
      ]) {
        expect(text).toContain(line);
      }
      expect(text).not.toMatch(CLINICAL);
    }
    // The visit's reason and diagnosis are in Cara's chart; the statement's source ChargeItem names them to full readers.
    const encounter = await app.system.searchResources<any>('Encounter', { patient: `Patient/${ids.cara}` });
    expect(JSON.stringify(encounter)).toMatch(CLINICAL);
  });

  it('$statement is refused to whoever does not see the Invoice, and for an Invoice that is not a statement', async () => {
    expect((await app.call('GET', `/fhir/Invoice/${caraInvoice.id}/$statement`, { token: tokens.dan })).status).toBe(404);
    const { resource: draft } = await app.system.create<Invoice>({ ...caraInvoice, id: undefined, status: 'draft' });
    const res = await app.call('GET', `/fhir/Invoice/${draft.id}/$statement`, { token: tokens.staff });
    expect([res.status, outcomeText(res.body)]).toEqual([400, `Invoice/${draft.id} is draft, not a statement (issued or balanced)`]);
    await app.system.delete('Invoice', draft.id!);
  });

  it('nothing clinical leaks through a statement to a billing-only reader', async () => {
    const invoice = await app.call('GET', `/fhir/Invoice/${caraInvoice.id}`, { token: tokens.ada });
    expect(invoice.status).toBe(200);
    expect(JSON.stringify(invoice.body)).not.toMatch(CLINICAL);
    const chargeId = caraInvoice.lineItem![0].chargeItemReference!.reference!;
    const charge = await app.call('GET', `/fhir/${chargeId}`, { token: tokens.ada });
    expect([charge.status, (charge.body as ChargeItem).reason, (charge.body as ChargeItem).code.coding![0].code]).toEqual([
      200,
      undefined,
      '99213',
    ]);
    // The visit the charge is for is clinical: not Ada's to see.
    const context = (await app.system.read<ChargeItem>('ChargeItem', chargeId.split('/')[1])).context!.reference!;
    expect((await app.call('GET', `/fhir/${context}`, { token: tokens.ada })).status).toBe(404);
  });

  it('a statement issued: one email each to Ada and Cara, none to Dan; no amounts or clinical content in it', async () => {
    await billingNoticeJob(deps);
    const { resource: draft } = await app.system.create<Invoice>({
      ...caraInvoice,
      id: undefined,
      status: 'draft',
      identifier: [{ system: 'urn:test', value: 'INV-NEW' }],
    });
    // A draft is no statement: nobody is told.
    expect(await billingNoticeJob(deps)).toEqual([]);
    const mails = app.smtp.received.length;
    await app.system.update<Invoice>({ ...draft, status: 'issued' });
    const sent = await billingNoticeJob(deps);
    expect(sent?.map((n) => [n.kind, n.to, n.audience]).sort()).toEqual([
      ['statement', ADA, 'family-member'],
      ['statement', CARA, 'patient'],
    ]);
    for (const to of [ADA, CARA]) {
      const mail = await app.mailTo(to, mails);
      expect(mail.message.subject).toBe('A statement is available in your Westside Family Medicine patient portal');
      expect(`${mail.message.text}${mail.message.html}`).not.toMatch(/\$|\d+\.\d\d|99213|office visit/i);
      expect(`${mail.message.text}`).not.toMatch(CLINICAL);
    }
    expect(app.smtp.received.slice(mails).some((m) => m.envelopeTo.includes(DAN))).toBe(false);
    // Issued once: a later change of the same statement (balanced, reopened) is not announced again.
    await app.system.update<Invoice>({ ...(await app.system.read<Invoice>('Invoice', draft.id!)), status: 'balanced' });
    await app.system.update<Invoice>({ ...(await app.system.read<Invoice>('Invoice', draft.id!)), status: 'issued' });
    expect(await billingNoticeJob(deps)).toEqual([]);
  });

  it('a statement issued in a transaction that fails announces nothing', async () => {
    await billingNoticeJob(deps);
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { ...caraInvoice, id: undefined, status: 'issued' }, request: { method: 'POST', url: 'Invoice' } },
        {
          resource: { resourceType: 'Invoice', status: 'no-such-status' } as unknown as Invoice,
          request: { method: 'POST', url: 'Invoice' },
        },
      ],
    };
    const res = await app.call('POST', '/fhir', { token: tokens.staff, json: bundle });
    expect(res.status).toBe(400);
    expect(Number((await sql<{ n: string }>`select count(*) as n from billing_notice`.execute(app.database.db)).rows[0].n)).toBe(0);
  });

  it('every statement view and balance is in the patient’s activity history', async () => {
    // Ada (Cara's guardian) views the statement here too: the PDF test above skips where pdftotext is missing.
    expect((await app.call('GET', `/fhir/Invoice/${caraInvoice.id}/$statement`, { token: tokens.ada })).status).toBe(200);
    const res = await app.call('GET', `/fhir/AuditEvent?patient=Patient/${ids.cara}&_count=1000`, { token: tokens.cara });
    const events = ((res.body as Bundle).entry ?? []).map((e) => e.resource as AuditEvent);
    const by = (operation: string) =>
      events.filter((e) => e.entity?.[0]?.detail?.some((d) => d.valueString === operation)).map((e) => e.agent?.[0]?.who?.reference);
    expect(by('$statement')).toEqual(expect.arrayContaining([expect.stringMatching(/^RelatedPerson\//)]));
    expect(by('$balance')).toEqual(expect.arrayContaining([expect.stringMatching(/^RelatedPerson\//)]));
  });
});
