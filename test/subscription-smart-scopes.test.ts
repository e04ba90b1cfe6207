/**
 * Issue 21 with issue 20's SMART scopes: a Subscription keeps the access of whoever wrote it, SMART scopes and their
 * queries included, and notifies of no more than that writer's own searches find. A backend token that reads
 * Observations only through `system/Observation.rs?category=...|laboratory` hears of lab results alone, beside an
 * unfiltered token's subscription that hears of every Observation; a change that takes a resource into or out of the
 * scope notifies as the search would; criteria chained through a type the token does not read find nothing; a
 * Subscription written again by a narrower token notifies with the narrower access, the notifications already queued
 * included; one written before migration 0025 (no access kept) keeps its organisation's full access. Receivers run on
 * loopback; the delivery job is run by the test.
 */
import type { Observation, Subscription } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { DEMO_PASSWORD } from '../fixtures/demo-family';
import type { JobDeps } from '../src/jobs/job-deps';
import { subscriptionDeliveryJob } from '../src/jobs/subscription-delivery-job';
import { appJobDeps } from './support/app-job-deps';
import { type BackendClient, registerBackendClient } from './support/backend-client';
import { notificationEvent, type RestHookReceiver, startRestHookReceiver } from './support/rest-hook-receiver';
import { type SmartTestApp, startSmartTestApp } from './support/smart-test-app';

const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const LAB_SCOPE = `system/Observation.rs?category=${CATEGORY}|laboratory`;

describe('Subscriptions keep their writer’s SMART scopes', () => {
  let app: SmartTestApp;
  let client: BackendClient;
  let deps: JobDeps;
  let adaId: string;
  let labToken: string;
  let allToken: string;
  const receivers: RestHookReceiver[] = [];

  beforeAll(async () => {
    app = await startSmartTestApp();
    const maya = await app.login('maya.chen@example.com', DEMO_PASSWORD);
    const organizationId = (await app.read('Organization?name=Westside', maya.access_token)).body.entry[0].resource.id as string;
    adaId = (await app.login('ada.park@example.com', DEMO_PASSWORD)).account.patientId as string;
    client = await registerBackendClient(app, organizationId, 'Lab Sync');
    labToken = await client.token(`system/Subscription.cruds ${LAB_SCOPE}`);
    allToken = await client.token('system/Subscription.cruds system/Observation.rs');
    deps = appJobDeps(app);
  }, 120_000);
  afterAll(async () => {
    for (const receiver of receivers) await receiver.close();
    await app?.close();
  });

  async function receiver(): Promise<RestHookReceiver> {
    const started = await startRestHookReceiver();
    receivers.push(started);
    return started;
  }

  function subscriptionFor(endpoint: string, criteria: string, reason = 'Keep our lab system in step'): Subscription {
    return {
      resourceType: 'Subscription',
      status: 'requested',
      reason,
      criteria,
      channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json' },
    };
  }

  /** Subscribes with `token` and runs the job once (the handshake); answers the Subscription's id. */
  async function subscribe(token: string, endpoint: string, criteria = 'Observation'): Promise<string> {
    const res = await fetch(`${app.fhir}/Subscription`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' },
      body: JSON.stringify(subscriptionFor(endpoint, criteria)),
    });
    const body = (await res.json()) as Subscription;
    expect([res.status, body.resourceType]).toEqual([201, 'Subscription']);
    await subscriptionDeliveryJob(deps);
    return body.id as string;
  }

  function observation(category: string): Observation {
    return {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: CATEGORY, code: category }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }], text: 'Glucose' },
      subject: { reference: `Patient/${adaId}` },
    };
  }

  async function create(category: string): Promise<string> {
    return (await app.system.create<Observation>(observation(category))).resource.id as string;
  }

  async function recategorise(id: string, category: string): Promise<void> {
    await app.system.update<Observation>({ ...observation(category), id });
  }

  /** The ids the event notifications a receiver took were about, in order. */
  const notifiedIds = (hook: RestHookReceiver) =>
    hook.taken('event-notification').map((n) => notificationEvent(n).focus?.split('/').pop() as string);

  async function searchIds(path: string, token: string): Promise<string[]> {
    const res = await app.read(path, token);
    expect(res.status).toBe(200);
    return (res.body.entry ?? []).map((e: any) => e.resource.id as string).sort();
  }

  it('a lab-only token’s subscription hears of lab results alone; an unfiltered token’s of every Observation', async () => {
    const labHook = await receiver();
    const allHook = await receiver();
    await subscribe(labToken, labHook.url);
    await subscribe(allToken, allHook.url);
    const lab = await create('laboratory');
    const vital = await create('vital-signs');
    await subscriptionDeliveryJob(deps);
    expect(notifiedIds(labHook)).toEqual([lab]);
    expect(notifiedIds(allHook)).toEqual([lab, vital]);
    expect(labHook.taken('event-notification')[0].body.entry[1].resource).toMatchObject({
      id: lab,
      category: [{ coding: [{ code: 'laboratory' }] }],
    });
    // As the token's own search sees them.
    expect(await searchIds(`Observation?_id=${lab},${vital}`, labToken)).toEqual([lab]);

    // A change into the scope notifies; one out of it does not, nor does deleting what is out of it; deleting what is
    // in it does.
    await recategorise(vital, 'laboratory');
    await recategorise(lab, 'vital-signs');
    await app.system.delete('Observation', lab);
    await app.system.delete('Observation', vital);
    await subscriptionDeliveryJob(deps);
    expect(notifiedIds(labHook)).toEqual([lab, vital, vital]);
    expect(notifiedIds(allHook)).toEqual([lab, vital, vital, lab, lab, vital]);
    const deletion = labHook.taken('event-notification')[2].body.entry[1];
    expect([deletion.request, deletion.resource]).toEqual([{ method: 'DELETE', url: `Observation/${vital}` }, undefined]);
    expect(labHook.taken('event-notification').map((n) => notificationEvent(n).number)).toEqual(['1', '2', '3']);
  });

  it('criteria chained through a type the token does not read find nothing, as its searches do', async () => {
    const patientReader = await client.token('system/Subscription.cruds system/Observation.rs system/Patient.rs');
    const criteria = 'Observation?patient.family=Park';
    const readerHook = await receiver();
    const blindHook = await receiver();
    await subscribe(patientReader, readerHook.url, criteria);
    await subscribe(allToken, blindHook.url, criteria);
    const id = await create('vital-signs');
    await subscriptionDeliveryJob(deps);
    expect(await searchIds(`${criteria}&_id=${id}`, patientReader)).toEqual([id]);
    expect(await searchIds(`${criteria}&_id=${id}`, allToken)).toEqual([]);
    expect(notifiedIds(readerHook)).toEqual([id]);
    expect(notifiedIds(blindHook)).toEqual([]);
  });

  it('written again by a narrower token, it notifies with the narrower access, notifications already queued included', async () => {
    const hook = await receiver();
    const id = await subscribe(allToken, hook.url);
    const vital = await create('vital-signs');
    // Queued under the unfiltered access, not yet sent: the lab-only token takes the Subscription over.
    const res = await fetch(`${app.fhir}/Subscription/${id}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${labToken}`, 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' },
      body: JSON.stringify({ ...subscriptionFor(hook.url, 'Observation', 'Lab results only'), id }),
    });
    expect(res.status).toBe(200);
    const lab = await create('laboratory');
    await subscriptionDeliveryJob(deps);
    expect(notifiedIds(hook)).toEqual([lab]);
    expect(hook.taken('event-notification').map((n) => notificationEvent(n).number)).toEqual(['1']);
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from subscription_notification where subscription_id = ${id}`.execute(app.database.db);
    // The Observation queued before is left out, not held back: nothing is left in the outbox.
    expect(rows[0].n).toBe(0);
    expect(notifiedIds(hook)).not.toContain(vital);
  });

  it('a Subscription written before migration 0025 (no access kept) keeps its organisation’s full access', async () => {
    const hook = await receiver();
    const id = await subscribe(labToken, hook.url);
    await sql`update subscription set owner = null, owner_access = null where id = ${id}`.execute(app.database.db);
    const vital = await create('vital-signs');
    await subscriptionDeliveryJob(deps);
    expect(notifiedIds(hook)).toEqual([vital]);
  });
});
