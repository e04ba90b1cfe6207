/**
 * Patient/{id}/$transmit over HTTP with mail to a loopback SMTP server: the record goes to the provider address
 * (typed twice) as an IHE XDM zip or the C-CDA XML, the sender gets a notice, and the patient's activity history
 * shows the sending with its addressee, whoever sent it; a patient's own $ccda download is in it too (ONC (e)(1)).
 */
import type { AuditEvent, Bundle, Parameters } from '@medplum/fhirtypes';
import { unzipSync } from 'fflate';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { createServer } from 'node:net';
import { unrestrictedScope } from '../src/access/access-scope';
import { accountContext, REQUEST_ACCOUNT_THROTTLE } from '../src/auth/account-context';
import { createAccountServices } from '../src/portal/account-services';
import { transmitOperation } from '../src/portal/records/transmit-operation';
import { SmtpMailer } from '../src/mail/smtp-mailer';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';

const PROVIDER = 'dr.lee@elsewhere.example';

function transmitBody(values: Record<string, string>): Parameters {
  return { resourceType: 'Parameters', parameter: Object.entries(values).map(([name, valueString]) => ({ name, valueString })) };
}

/** The C-CDA inside an XDM zip: the one XML entry that is a ClinicalDocument. */
function documentInZip(zip: Buffer): { path: string; xml: string } {
  const entries = Object.entries(unzipSync(new Uint8Array(zip))).map(([path, bytes]) => ({
    path,
    xml: Buffer.from(bytes).toString('utf8'),
  }));
  const documents = entries.filter((e) => e.xml.includes('<ClinicalDocument'));
  expect(documents).toHaveLength(1);
  expect(entries.some((e) => /METADATA\.XML$/i.test(e.path))).toBe(true);
  // The copy a person reads, beside the document and linked from the index a browser opens.
  expect(entries.find((e) => e.path === 'IHE_XDM/SUBSET01/DOC0001.HTM')?.xml).toMatch(/^<!DOCTYPE html>[\s\S]*Park/);
  expect(entries.find((e) => e.path === 'INDEX.HTM')?.xml).toContain('<a href="IHE_XDM/SUBSET01/DOC0001.HTM">');
  return documents[0];
}

describe('Patient/$transmit', () => {
  let app: AuthTestApp;
  let ada: { token: string; patientId: string };
  let benId: string;
  let caraId: string;

  beforeAll(async () => {
    app = await startAuthTestApp();
    const session = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
    ada = { token: session.access_token, patientId: session.account.patientId };
    const patients = await app.system.searchResources('Patient', { _count: '100' });
    benId = patients.find((p) => (p as { name?: { given?: string[] }[] }).name?.[0]?.given?.[0] === 'Ben')!.id!;
    caraId = patients.find((p) => (p as { name?: { given?: string[] }[] }).name?.[0]?.given?.[0] === 'Cara')!.id!;
  });
  afterAll(() => app?.close());

  const transmit = (patientId: string, values: Record<string, string>, token = ada.token) =>
    app.call('POST', `/fhir/Patient/${patientId}/$transmit`, { token, json: transmitBody(values) });

  async function historyOf(patientId: string, token = ada.token): Promise<AuditEvent[]> {
    const res = await app.call('GET', `/fhir/AuditEvent?patient=Patient/${patientId}&_count=1000&_sort=-date`, { token });
    expect(res.status).toBe(200);
    return ((res.body as Bundle).entry ?? []).map((e) => e.resource as AuditEvent);
  }
  const operationOf = (event: AuditEvent) => event.entity?.[0]?.detail?.find((d) => d.type === 'operation')?.valueString;

  it('sends Ada’s record for a date range to the provider as an IHE XDM zip, and tells Ada where it went', async () => {
    const before = app.smtp.received.length;
    const res = await transmit(ada.patientId, {
      email: PROVIDER,
      confirmEmail: 'Dr.Lee@Elsewhere.example',
      start: '2024-01-01',
      end: '2026-06-30',
    });
    expect(res.status).toBe(200);
    const answer = Object.fromEntries((res.body as Parameters).parameter!.map((p) => [p.name, p.valueString]));
    expect(answer).toEqual({
      sentTo: PROVIDER,
      fileName: 'health-record-2024-01-01-2026-06-30.zip',
      format: 'xdm',
      start: '2024-01-01',
      end: '2026-06-30',
    });

    const mail = await app.mailTo(PROVIDER, before);
    expect(mail.message.subject).toMatch(/^Health record sent at a patient's request by /);
    expect(mail.message.text).toContain('January 1, 2024 to June 30, 2026');
    // The patient is named only inside the document: not in the mail, nor by id in its headers.
    expect(`${mail.message.subject} ${mail.message.text}`).not.toMatch(/Ada|Park/);
    expect(mail.raw).not.toContain(ada.patientId);
    expect(mail.message.attachments.map((a) => [a.filename, a.contentType])).toEqual([[answer.fileName, 'application/zip']]);
    const { xml } = documentInZip(mail.message.attachments[0].content);
    expect(xml).toContain('<family>Park</family>');
    expect(xml).toMatch(/<effectiveTime>\s*<low value="20240101/);

    const notice = await app.mailTo(DEMO_PEOPLE.ada.email as string, before);
    expect(notice.message.subject).toBe(`Your health record was sent to ${PROVIDER}`);
    expect(notice.message.attachments).toEqual([]);
  });

  it('sends the C-CDA XML itself when asked (format=ccda)', async () => {
    const before = app.smtp.received.length;
    const res = await transmit(ada.patientId, {
      email: 'records@clinic.example',
      confirmEmail: 'records@clinic.example',
      start: '2025-03-04',
      end: '2025-03-04',
      format: 'ccda',
    });
    expect(res.status).toBe(200);
    const mail = await app.mailTo('records@clinic.example', before);
    expect(mail.message.text).toContain('(March 4, 2025)');
    const [file] = mail.message.attachments;
    expect([file.filename, file.contentType]).toEqual(['health-record-2025-03-04.xml', 'application/xml']);
    expect(file.content.toString('utf8')).toMatch(/^<\?xml[^>]*>\s*(<\?xml-stylesheet[^>]*>\s*)?<ClinicalDocument/);
  });

  it('each sending is in the activity history with its addressee, as is Ada’s own download', async () => {
    expect((await app.call('GET', `/fhir/Patient/${ada.patientId}/$ccda?_format=zip`, { token: ada.token })).status).toBe(200);
    const events = await historyOf(ada.patientId);
    const sent = events.filter((e) => operationOf(e) === '$transmit');
    expect(sent.map((e) => e.agent?.[1]?.who?.display).sort()).toEqual(['dr.lee@elsewhere.example', 'records@clinic.example']);
    for (const event of sent) {
      expect(event.agent?.[0]).toMatchObject({ who: { reference: `Patient/${ada.patientId}` }, requestor: true });
      expect(event.agent?.[1]).toMatchObject({ type: { coding: [{ code: '110152', display: 'Destination Role ID' }] }, requestor: false });
      expect(event.action).toBe('E');
    }
    expect(events.filter((e) => operationOf(e) === '$ccda').map((e) => e.agent?.[0]?.who?.reference)).toContain(`Patient/${ada.patientId}`);
    // So is a CCD she has made on demand through $docref.
    expect(
      (await app.call('GET', `/fhir/DocumentReference/$docref?patient=${ada.patientId}&on-demand=true`, { token: ada.token })).status,
    ).toBe(200);
    const again = await historyOf(ada.patientId);
    expect(again.filter((e) => operationOf(e) === '$docref').map((e) => e.agent?.[0]?.who?.reference)).toEqual([
      `Patient/${ada.patientId}`,
    ]);
    // Her plain reads of her own record are still not recorded.
    expect(events.filter((e) => e.subtype?.[0]?.code === 'read' && e.agent?.[0]?.who?.reference === `Patient/${ada.patientId}`)).toEqual(
      [],
    );
  });

  it('refuses, sending nothing: addresses that differ or are not one address, a bad format or period', async () => {
    const before = app.smtp.received.length;
    const cases: [Record<string, string>, string][] = [
      [
        { email: PROVIDER, confirmEmail: 'dr.lee@elsewhere.example.com' },
        'email and confirmEmail differ: type the same provider address twice',
      ],
      [
        { email: `${PROVIDER}, other@x.example`, confirmEmail: `${PROVIDER}, other@x.example` },
        `email must be one email address, got "${PROVIDER}, other@x.example"`,
      ],
      [{ confirmEmail: PROVIDER }, 'email is required: the provider address to send the record to'],
      [{ email: PROVIDER }, 'confirmEmail is required: type the provider address a second time'],
      [
        { email: PROVIDER, confirmEmail: PROVIDER, format: 'pdf' },
        'format must be xdm (an IHE XDM zip, the default) or ccda (the C-CDA XML), got "pdf"',
      ],
      [{ email: PROVIDER, confirmEmail: PROVIDER, start: '2026-02-01', end: '2026-01-01' }, 'start (2026-02-01) is after end (2026-01-01)'],
    ];
    for (const [values, message] of cases) {
      const res = await transmit(ada.patientId, values);
      expect([res.status, outcomeText(res.body)]).toEqual([400, message]);
    }
    expect(app.smtp.received.length).toBe(before);
    // `email[a]=x` is a parameter named "email[a]", not an email given as an object: the email is still missing.
    const odd = await app.call('POST', `/fhir/Patient/${ada.patientId}/$transmit?email[a]=x`, {
      token: ada.token,
      json: transmitBody({ confirmEmail: PROVIDER }),
    });
    expect([odd.status, outcomeText(odd.body)]).toEqual([400, 'email is required: the provider address to send the record to']);
  });

  it('needs full access: Ada sends Ben’s (9) record, not Cara’s (15, billing); Dan and Dr. Chen send Ada’s', async () => {
    const before = app.smtp.received.length;
    expect((await transmit(caraId, { email: PROVIDER, confirmEmail: PROVIDER })).status).toBe(403);
    expect(app.smtp.received.length).toBe(before);
    expect((await transmit(benId, { email: PROVIDER, confirmEmail: PROVIDER })).status).toBe(200);
    const benEvents = (await historyOf(benId)).filter((e) => operationOf(e) === '$transmit');
    expect(benEvents.map((e) => [e.agent?.[0]?.who?.reference?.split('/')[0], e.agent?.[1]?.who?.display])).toEqual([
      ['RelatedPerson', PROVIDER],
    ]);

    const dan = await app.login(DEMO_PEOPLE.dan.email as string, DEMO_PASSWORD);
    const beforeDan = app.smtp.received.length;
    expect((await transmit(ada.patientId, { email: PROVIDER, confirmEmail: PROVIDER }, dan.access_token)).status).toBe(200);
    expect((await app.mailTo(DEMO_PEOPLE.dan.email as string, beforeDan)).message.subject).toBe(
      `Ada's health record was sent to ${PROVIDER}`,
    );
    const maya = await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD);
    expect((await transmit(ada.patientId, { email: PROVIDER, confirmEmail: PROVIDER }, maya.access_token)).status).toBe(200);
    const agents = (await historyOf(ada.patientId))
      .filter((e) => operationOf(e) === '$transmit')
      .map((e) => e.agent?.[0]?.who?.reference?.split('/')[0]);
    expect(agents).toEqual(expect.arrayContaining(['RelatedPerson', 'Practitioner', 'Patient']));
    // A stranger's record stays unknown.
    expect((await transmit('no-such-patient', { email: PROVIDER, confirmEmail: PROVIDER })).status).toBe(404);
  });

  it('answers 503 when the mail server refuses, so the sender knows to try again', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
    const deadPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const mailer = new SmtpMailer({
      smtpUrl: `smtp://127.0.0.1:${deadPort}`,
      from: 'Chartkeeper <no-reply@chartkeeper.local>',
      clock: app.clock,
    });
    const operation = transmitOperation(createAccountServices(accountContext({ ...app.services.context, mailer })));
    const caller = { kind: 'system' as const, subject: 'transmit-test', scope: unrestrictedScope() };
    await expect(
      operation.handle({ repo: app.system, caller, id: ada.patientId, params: { email: PROVIDER, confirmEmail: PROVIDER } }),
    ).rejects.toMatchObject({
      status: 503,
      outcome: { issue: [{ code: 'transient' }] },
    });
    await mailer.close();
  });
});

describe('Patient/$transmit is rate limited per sender', () => {
  let app: AuthTestApp;
  beforeAll(async () => {
    app = await startAuthTestApp({ throttles: { requestAccount: REQUEST_ACCOUNT_THROTTLE } });
  });
  afterAll(() => app?.close());

  it('three sendings go at once; the fourth is 429 with Retry-After and sends nothing', async () => {
    const session = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
    const send = () =>
      app.call('POST', `/fhir/Patient/${session.account.patientId}/$transmit`, {
        token: session.access_token,
        json: transmitBody({ email: PROVIDER, confirmEmail: PROVIDER, start: '2026-01-01', end: '2026-01-31' }),
      });
    for (let i = 0; i < 3; i++) expect((await send()).status).toBe(200);
    const before = app.smtp.received.length;
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(outcomeText(refused.body)).toMatch(/^Too many records sent\. Try again in /);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(app.smtp.received.length).toBe(before);
  });
});
