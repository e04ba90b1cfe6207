/**
 * Issue 21, Subscriptions: R4 rest-hook Subscriptions with a transactional outbox. A staff member's subscription on
 * DocumentReference hears of a release and of a C-CDA import, once each; a receiver that fails gets every
 * notification, in order, once it recovers; a subscription sees only what its owner may read; endpoints into the
 * internal network are refused. Receivers run on loopback; the delivery job is run by the test with the test's clock.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DocumentReference, Organization, Patient, Subscription } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { HEARTBEAT_EXTENSION } from '../src/fhir/subscriptions/subscription-definition';
import type { JobDeps } from '../src/jobs/job-deps';
import { subscriptionDeliveryJob } from '../src/jobs/subscription-delivery-job';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';
import { signInNewStaff } from './support/staff-accounts';
import { notificationEvent, notificationType, type RestHookReceiver, startRestHookReceiver } from './support/rest-hook-receiver';
import { appJobDeps } from './support/app-job-deps';

const CCDA =
  `<?xml version="1.0" encoding="UTF-8"?>` +
  fs.readFileSync(path.join(__dirname, '../fixtures/ccda-golden/results-vitals-r11.xml'), 'utf8').replace(/^<\?xml[^>]*\?>/, '');

describe('Subscriptions (rest-hook, transactional outbox)', () => {
  let app: AuthTestApp;
  let deps: JobDeps;
  let maya: string;
  let ada: string;
  const receivers: RestHookReceiver[] = [];

  beforeAll(async () => {
    app = await startAuthTestApp();
    deps = appJobDeps(app);
    maya = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
    const patients = await app.system.searchResources<Patient>('Patient', { _count: '100' });
    ada = patients.find((p) => p.name?.[0]?.given?.[0] === 'Ada')!.id!;
  });
  afterAll(async () => {
    for (const receiver of receivers) await receiver.close();
    await app?.close();
  });

  async function receiver(): Promise<RestHookReceiver> {
    const started = await startRestHookReceiver();
    receivers.push(started);
    return started;
  }

  function subscriptionFor(
    endpoint: string,
    fields: Partial<Subscription> = {},
    channel: Partial<Subscription['channel']> = {},
  ): Subscription {
    return {
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'Keep our EHR in step',
      criteria: 'DocumentReference',
      channel: {
        type: 'rest-hook',
        endpoint,
        payload: 'application/fhir+json',
        header: ['Authorization: Bearer receiver-secret'],
        ...channel,
      },
      ...fields,
    };
  }

  /** Subscribes as `token` and runs the job once, which makes the handshake. */
  async function subscribe(
    token: string,
    endpoint: string,
    fields: Partial<Subscription> = {},
    channel: Partial<Subscription['channel']> = {},
  ): Promise<Subscription> {
    const res = await app.call('POST', '/fhir/Subscription', { token, json: subscriptionFor(endpoint, fields, channel) });
    expect([res.status, outcomeText(res.body)]).toEqual([201, '']);
    await subscriptionDeliveryJob(deps);
    return res.body;
  }

  const statusOf = async (id: string) => await app.system.read<Subscription>('Subscription', id);

  async function draftFor(patientId: string, description: string): Promise<DocumentReference> {
    const { resource } = await app.system.create<DocumentReference>({
      resourceType: 'DocumentReference',
      status: 'current',
      docStatus: 'preliminary',
      subject: { reference: `Patient/${patientId}` },
      description,
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(description).toString('base64') } }],
    });
    return resource;
  }

  it('a staff subscription is handshaken on activation, with the receiver’s header, and becomes active', async () => {
    const hook = await receiver();
    const subscription = await subscribe(maya, hook.url);
    expect(subscription.status).toBe('requested');
    expect(hook.received.map(notificationType)).toEqual(['handshake']);
    expect(hook.received[0].headers.authorization).toBe('Bearer receiver-secret');
    expect(hook.received[0].headers['content-type']).toBe('application/fhir+json');
    const status = hook.received[0].body.entry[0].resource;
    expect(status.parameter.find((p: any) => p.name === 'subscription').valueReference.reference).toBe(
      `${app.url}/fhir/Subscription/${subscription.id}`,
    );
    expect((await statusOf(subscription.id!)).status).toBe('active');
    // Nothing more to say: the next run sends nothing.
    await subscriptionDeliveryJob(deps);
    expect(hook.received).toHaveLength(1);
  });

  it('releasing Ada’s unreleased document and importing a C-CDA each produce one notification', async () => {
    const documents = await app.system.searchResources<DocumentReference>('DocumentReference', { patient: `Patient/${ada}` });
    const unreleased = documents.find((d) => d.docStatus === 'preliminary')!;
    expect(unreleased).toBeDefined();
    const hook = await receiver();
    await subscribe(maya, hook.url);

    const released = await app.call('PUT', `/fhir/DocumentReference/${unreleased.id}`, {
      token: maya,
      json: { ...unreleased, docStatus: 'final' },
    });
    expect(released.status).toBe(200);
    await subscriptionDeliveryJob(deps);
    const events = hook.taken('event-notification');
    expect(events.map((n) => notificationEvent(n))).toEqual([{ focus: `${app.url}/fhir/DocumentReference/${unreleased.id}`, number: '1' }]);
    // The full-resource payload carries the version the write made.
    expect(events[0].body.entry[1].resource).toMatchObject({
      id: unreleased.id,
      docStatus: 'final',
      meta: { versionId: released.body.meta.versionId },
    });

    const imported = await fetch(`${app.url}/fhir/$import-ccda`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${maya}`, 'Content-Type': 'application/xml' },
      body: CCDA,
    });
    expect(imported.status).toBe(201);
    await subscriptionDeliveryJob(deps);
    const after = hook.taken('event-notification').slice(1);
    expect(after).toHaveLength(1);
    const focus = notificationEvent(after[0]).focus!;
    expect(focus).toMatch(new RegExp(`^${app.url}/fhir/DocumentReference/`));
    expect(notificationEvent(after[0]).number).toBe('2');
    const document = await app.system.read<DocumentReference>('DocumentReference', focus.split('/').pop()!);
    expect(document.content[0].attachment.contentType).toMatch(/xml/);
  });

  it('a receiver answering 500 three times then 200 gets every notification once it recovers, in order, nothing lost', async () => {
    const hook = await receiver();
    const subscription = await subscribe(maya, hook.url, { criteria: `DocumentReference?patient=Patient/${ada}` }, { payload: undefined });
    hook.failNext(3);
    const written = [];
    for (const name of ['first', 'second', 'third']) written.push(await draftFor(ada, `${name} note`));

    const outcomes = [];
    for (const wait of [0, 5, 10]) {
      app.clock.advance(wait * 1000);
      // Before the backoff has passed, the job leaves the subscription alone.
      outcomes.push((await subscriptionDeliveryJob(deps))!.find((d) => d.subscriptionId === subscription.id));
      app.clock.advance(1000);
      expect((await subscriptionDeliveryJob(deps))!.find((d) => d.subscriptionId === subscription.id)).toBeUndefined();
      app.clock.advance(-1000);
    }
    expect(outcomes.map((o) => [o?.delivered, o?.failure, o?.status])).toEqual([
      [0, 'the endpoint answered 500', 'active'],
      [0, 'the endpoint answered 500', 'active'],
      [0, 'the endpoint answered 500', 'error'],
    ]);
    const failed = await statusOf(subscription.id!);
    expect([failed.status, failed.error]).toEqual([
      'error',
      'Delivery to the endpoint failed 3 times in a row; the last: the endpoint answered 500',
    ]);

    app.clock.advance(20_000);
    const recovered = (await subscriptionDeliveryJob(deps))!.find((d) => d.subscriptionId === subscription.id);
    expect([recovered?.delivered, recovered?.status]).toEqual([3, 'active']);
    const events = hook.taken('event-notification').map(notificationEvent);
    expect(events).toEqual(written.map((d, i) => ({ focus: `${app.url}/fhir/DocumentReference/${d.id}`, number: String(i + 1) })));
    // An id-only subscription's notifications carry no resource.
    expect(hook.taken('event-notification').map((n) => n.body.entry.length)).toEqual([1, 1, 1]);
    const active = await statusOf(subscription.id!);
    expect([active.status, active.error]).toEqual(['active', undefined]);
    expect(hook.received.filter((n) => n.answered === 500).map(notificationType)).toEqual([
      'event-notification',
      'event-notification',
      'event-notification',
    ]);
  });

  it('a subscription cannot see another organisation’s documents', async () => {
    await app.system.update({ resourceType: 'Organization', id: 'other-organization', name: 'Elsewhere Clinic' });
    const other = (
      await signInNewStaff(app, {
        email: 'records@elsewhere.example',
        displayName: 'Elsewhere Records',
        organizationId: 'other-organization',
      })
    ).access_token;
    const hook = await receiver();
    const subscription = await subscribe(other, hook.url);
    expect((await statusOf(subscription.id!)).status).toBe('active');
    // Nor does the other organisation see the subscription of Maya's.
    expect((await app.call('GET', '/fhir/Subscription', { token: other })).body.entry.map((e: any) => e.resource.id)).toEqual([
      subscription.id,
    ]);

    await draftFor(ada, 'not for elsewhere');
    const { resource: theirs } = await app.system.create<Patient>({
      resourceType: 'Patient',
      name: [{ family: 'Elsewhere', given: ['Eve'] }],
      managingOrganization: { reference: 'Organization/other-organization' },
    });
    const their = await draftFor(theirs.id!, 'their own patient');
    await subscriptionDeliveryJob(deps);
    expect(hook.taken('event-notification').map((n) => notificationEvent(n).focus)).toEqual([
      `${app.url}/fhir/DocumentReference/${their.id}`,
    ]);
  });

  it('chained criteria (patient.organization) notify of one organisation’s documents, not another’s', async () => {
    const westside = (await app.system.read<Patient>('Patient', ada)).managingOrganization!.reference!;
    const { resource: harbor } = await app.system.create<Organization>({ resourceType: 'Organization', name: 'Harbor Chain Clinic' });
    const { resource: hal } = await app.system.create<Patient>({
      resourceType: 'Patient',
      name: [{ family: 'Harbor', given: ['Hal'] }],
      managingOrganization: { reference: `Organization/${harbor.id}` },
    });
    // The operator's subscription sees every organisation: only the chain tells Westside's documents from Harbor's.
    const hook = await receiver();
    const { resource: subscription } = await app.system.create<Subscription>(
      subscriptionFor(hook.url, { criteria: `DocumentReference?patient.organization=${westside}` }),
    );
    await subscriptionDeliveryJob(deps);
    expect((await statusOf(subscription.id!)).status).toBe('active');
    const harbors = await draftFor(hal.id!, 'a Harbor patient’s note');
    const adas = await draftFor(ada, 'a Westside patient’s note');
    await subscriptionDeliveryJob(deps);
    expect(hook.taken('event-notification').map((n) => notificationEvent(n))).toEqual([
      { focus: `${app.url}/fhir/DocumentReference/${adas.id}`, number: '1' },
    ]);
    // The same chain as a search, and its typed form, find Ada's document and not Hal's.
    for (const name of ['patient.organization', 'subject:Patient.organization']) {
      const ids = (await app.system.searchResources<DocumentReference>('DocumentReference', { [name]: westside })).map((d) => d.id);
      expect([name, ids.includes(adas.id), ids.includes(harbors.id)]).toEqual([name, true, false]);
    }
  });

  it('deleting a matching document notifies, after its writes and in order; deleting one that does not match does not', async () => {
    const hook = await receiver();
    const idOnly = await receiver();
    await subscribe(maya, hook.url, { criteria: `DocumentReference?patient=Patient/${ada}&status=current` });
    await subscribe(maya, idOnly.url, { criteria: `DocumentReference?patient=Patient/${ada}` }, { payload: undefined });
    const doomed = await draftFor(ada, 'to be deleted');
    const { resource: superseded } = await app.system.create<DocumentReference>({
      resourceType: 'DocumentReference',
      status: 'superseded',
      subject: { reference: `Patient/${ada}` },
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('old').toString('base64') } }],
    });
    for (const id of [doomed.id, superseded.id]) {
      const deleted = await app.call('DELETE', `/fhir/DocumentReference/${id}`, { token: maya });
      expect(deleted.status).toBe(204);
    }
    await subscriptionDeliveryJob(deps);
    const focus = (id?: string) => `${app.url}/fhir/DocumentReference/${id}`;
    // status=current: the superseded document matched neither its creation nor its delete.
    const events = hook.taken('event-notification');
    expect(events.map((n) => notificationEvent(n))).toEqual([
      { focus: focus(doomed.id), number: '1' },
      { focus: focus(doomed.id), number: '2' },
    ]);
    // The full-resource payload tells the delete as the Backport IG does: the DELETE request, no resource.
    expect(events[1].body.entry[1]).toEqual({
      fullUrl: focus(doomed.id),
      request: { method: 'DELETE', url: `DocumentReference/${doomed.id}` },
      response: { status: '204' },
    });
    expect(idOnly.taken('event-notification').map((n) => notificationEvent(n).focus)).toEqual([
      focus(doomed.id),
      focus(superseded.id),
      focus(doomed.id),
      focus(superseded.id),
    ]);
    // Read after the notification, the document is gone (410).
    expect((await app.call('GET', `/fhir/DocumentReference/${doomed.id}`, { token: maya })).status).toBe(410);
  });

  it('an endpoint at 169.254.169.254 or 10.0.0.1, or plain http to another host, is refused and nothing is stored', async () => {
    const before = (await app.system.searchResources('Subscription')).length;
    for (const [endpoint, text] of [
      ['http://169.254.169.254/latest/meta-data/', 'address 169.254.169.254 is linkLocal'],
      ['https://10.0.0.1/hook', 'address 10.0.0.1 is private'],
      ['https://[::ffff:10.0.0.1]/hook', 'is private'],
      ['http://ehr.example.com/hook', 'must use https'],
      ['https://user:secret@ehr.example.com/hook', 'user name or password'],
      ['ftp://ehr.example.com/hook', 'must be an https URL'],
    ]) {
      const res = await app.call('POST', '/fhir/Subscription', { token: maya, json: subscriptionFor(endpoint) });
      expect([endpoint, res.status, outcomeText(res.body)]).toEqual([endpoint, 400, expect.stringContaining(text)]);
    }
    expect((await app.system.searchResources('Subscription')).length).toBe(before);
  });

  it('a portal caller is refused; a status other than requested or off, and criteria it cannot search, are refused', async () => {
    const adaToken = (await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD)).access_token;
    const portal = await app.call('POST', '/fhir/Subscription', { token: adaToken, json: subscriptionFor('https://ehr.example.com/hook') });
    expect(portal.status).toBe(403);
    const active = await app.call('POST', '/fhir/Subscription', {
      token: maya,
      json: subscriptionFor('https://ehr.example.com/hook', { status: 'active' }),
    });
    expect([active.status, outcomeText(active.body)]).toEqual([
      400,
      'Subscription.status must be requested or off: the service makes a Subscription active',
    ]);
    for (const [criteria, text] of [
      ['AuditEvent', 'AuditEvent cannot be subscribed to'],
      ['DocumentReference?status.name=x', '"status" is not a reference search parameter of DocumentReference'],
      ['DocumentReference?patient.colour=red', 'no type DocumentReference.patient refers to has a search parameter "colour"'],
      ['DocumentReference?_sort=date', '"_sort" is not a filter'],
      ['DocumentReference?colour=red', 'Unknown search parameter "colour"'],
    ]) {
      const res = await app.call('POST', '/fhir/Subscription', {
        token: maya,
        json: subscriptionFor('https://ehr.example.com/hook', { criteria }),
      });
      expect([criteria, res.status, outcomeText(res.body)]).toEqual([criteria, 400, expect.stringContaining(text)]);
    }
    const email = await app.call('POST', '/fhir/Subscription', {
      token: maya,
      json: subscriptionFor('https://ehr.example.com/hook', {}, { type: 'email' }),
    });
    expect([email.status, outcomeText(email.body)]).toEqual([400, expect.stringContaining('must be rest-hook')]);
  });

  it('sends heartbeats when asked, and nothing between them', async () => {
    const hook = await receiver();
    await subscribe(
      maya,
      hook.url,
      { criteria: 'DocumentReference?patient=Patient/nobody' },
      { extension: [{ url: HEARTBEAT_EXTENSION, valueUnsignedInt: 30 }] },
    );
    await subscriptionDeliveryJob(deps);
    expect(hook.received.map(notificationType)).toEqual(['handshake']);
    app.clock.advance(31_000);
    await subscriptionDeliveryJob(deps);
    await subscriptionDeliveryJob(deps);
    expect(hook.received.map(notificationType)).toEqual(['handshake', 'heartbeat']);
  });

  it('a write that rolls back queues nothing; a subscription set off hears nothing', async () => {
    const hook = await receiver();
    const subscription = await subscribe(maya, hook.url, { criteria: `DocumentReference?patient=Patient/${ada}` });
    const draft = await draftFor(ada, 'rolled back');
    await subscriptionDeliveryJob(deps);
    const before = hook.received.length;
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { ...draft, docStatus: 'final' }, request: { method: 'PUT', url: `DocumentReference/${draft.id}` } },
        { resource: { resourceType: 'Observation', status: 'final' }, request: { method: 'POST', url: 'Observation' } },
      ],
    };
    expect((await app.call('POST', '/fhir', { token: maya, json: bundle })).status).toBe(400);
    await subscriptionDeliveryJob(deps);
    expect(hook.received.length).toBe(before);

    const current = await statusOf(subscription.id!);
    expect(
      (await app.call('PUT', `/fhir/Subscription/${subscription.id}`, { token: maya, json: { ...current, status: 'off' } })).status,
    ).toBe(200);
    await draftFor(ada, 'while off');
    await subscriptionDeliveryJob(deps);
    expect(hook.received.length).toBe(before);
  });
});
