/**
 * Releasing a document tells the people who can now read it (src/jobs/release-notice-job.ts): the patient's own
 * account and full-access family members, by an email that names no document, sent by the every-minute job; not a
 * billing-only parent, not for a release that rolled back or a document taken back before the job ran.
 */
import type { Bundle, DocumentReference, Patient } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import type { JobDeps } from '../src/jobs/job-deps';
import { releaseNoticeJob } from '../src/jobs/release-notice-job';
import { type AuthTestApp, startAuthTestApp } from './auth-test-app';
import { appJobDeps } from './support/app-job-deps';

const ADA = DEMO_PEOPLE.ada.email as string;
const DAN = DEMO_PEOPLE.dan.email as string;
const CARA = DEMO_PEOPLE.cara.email as string;

describe('document release notices', () => {
  let app: AuthTestApp;
  let deps: JobDeps;
  let staff: string;
  let patients: Record<'ada' | 'ben' | 'cara', string>;

  beforeAll(async () => {
    app = await startAuthTestApp();
    deps = appJobDeps(app);
    staff = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
    const all = await app.system.searchResources<Patient>('Patient', { _count: '100' });
    const idOf = (given: string) => all.find((p) => p.name?.[0]?.given?.[0] === given)!.id!;
    patients = { ada: idOf('Ada'), ben: idOf('Ben'), cara: idOf('Cara') };
  });
  afterAll(() => app?.close());

  /** A document a provider has written but not released (docStatus preliminary). */
  async function draftFor(patient: keyof typeof patients, description = 'Visit summary'): Promise<DocumentReference> {
    const { resource } = await app.system.create<DocumentReference>({
      resourceType: 'DocumentReference',
      status: 'current',
      docStatus: 'preliminary',
      subject: { reference: `Patient/${patients[patient]}` },
      description,
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('Assessment and plan').toString('base64') } }],
    });
    return resource;
  }

  /** Staff release it over HTTP, as a provider's app would. */
  async function release(document: DocumentReference): Promise<void> {
    const res = await app.call('PUT', `/fhir/DocumentReference/${document.id}`, {
      token: staff,
      json: { ...document, docStatus: 'final' },
    });
    expect(res.status).toBe(200);
  }

  /** The job's notices as [to, audience], sorted. */
  const run = async () => ((await releaseNoticeJob(deps)) ?? []).map((n) => [n.to, n.audience]).sort();

  it('Ada’s released document is announced to Ada and to Dan (full access), once, naming no document', async () => {
    const before = app.smtp.received.length;
    const document = await draftFor('ada', 'HIV test result');
    await release(document);
    expect(await run()).toEqual([
      [ADA, 'patient'],
      [DAN, 'family-member'],
    ]);
    const mail = await app.mailTo(ADA, before);
    expect(mail.message.subject).toMatch(/^A new document is available in your .* patient portal$/);
    expect(mail.message.text).toContain(`${app.url}/documents?patient=${patients.ada}`);
    expect(`${mail.message.subject} ${mail.message.text}`).not.toMatch(/HIV|Visit|summary/i);
    expect((await app.mailTo(DAN, before)).message.text).toContain("in Ada's record");
    // Sent once: the next run has nothing to say.
    expect(await run()).toEqual([]);
  });

  it('two documents released together make one email per person', async () => {
    await release(await draftFor('ada'));
    await release(await draftFor('ada'));
    expect((await releaseNoticeJob(deps))?.map((n) => [n.to, n.documents])).toEqual([
      [ADA, 2],
      [DAN, 2],
    ]);
  });

  it('Ben’s (9) goes to Ada, his parent with full access; Cara’s (15) to Cara, not to Ada (billing only)', async () => {
    await release(await draftFor('ben'));
    await release(await draftFor('cara'));
    expect(await run()).toEqual([
      [ADA, 'family-member'],
      [CARA, 'patient'],
    ]);
  });

  it('no notice for a document already released, taken back, or a release that rolled back', async () => {
    const released = await draftFor('ada');
    await release(released);
    const current = await app.system.read<DocumentReference>('DocumentReference', released.id!);
    await app.system.update<DocumentReference>({ ...current, docStatus: 'preliminary' });
    expect(await run()).toEqual([]);

    const edited = await app.system.read<DocumentReference>('DocumentReference', released.id!);
    await app.system.update<DocumentReference>({ ...edited, docStatus: 'final' });
    const final = await app.system.read<DocumentReference>('DocumentReference', released.id!);
    await app.system.update<DocumentReference>({ ...final, description: 'Corrected summary' });
    expect(await run()).toEqual([
      [ADA, 'patient'],
      [DAN, 'family-member'],
    ]);

    // A version entered in error that is restored, or a document moved to another record before the run, is not news.
    const mistaken = await draftFor('ada');
    await app.system.update<DocumentReference>({ ...mistaken, docStatus: 'entered-in-error' });
    await app.system.update<DocumentReference>({
      ...(await app.system.read<DocumentReference>('DocumentReference', mistaken.id!)),
      docStatus: 'final',
    });
    const moved = await draftFor('ada');
    await release(moved);
    await app.system.update<DocumentReference>({
      ...(await app.system.read<DocumentReference>('DocumentReference', moved.id!)),
      subject: { reference: `Patient/${patients.cara}` },
    });
    expect(await run()).toEqual([]);

    const draft = await draftFor('ada');
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { ...draft, docStatus: 'final' }, request: { method: 'PUT', url: `DocumentReference/${draft.id}` } },
        { resource: { resourceType: 'Observation', status: 'final' } as never, request: { method: 'POST', url: 'Observation' } },
      ],
    };
    expect((await app.call('POST', '/fhir', { token: staff, json: bundle })).status).toBe(400);
    expect(await run()).toEqual([]);
  });
});
