/**
 * Delivers rest-hook notifications from the outbox (src/fhir/subscriptions/subscription-outbox.ts), every second. A
 * short transaction under the job's advisory lock claims the subscriptions with something due, each under a lease;
 * the requests go out after it commits (no connection waits on a receiver); each subscription's outcome is recorded
 * in a transaction of its own. For one subscription: the handshake first (on activation), then its notifications
 * oldest first, stopping at the first failure, so a receiver never sees one before an earlier one; a heartbeat when
 * nothing else was sent for its period. At least once: a notification leaves the outbox only after a 2xx, so a crash
 * between sending and recording sends it again (the receiver sees the event number twice). Each notification is judged
 * again against the subscription's access as it is sent; one it no longer admits is left out, unsent and unnumbered.
 */
import type { EndpointPolicy } from '../fhir/subscriptions/endpoint-policy';
import { DEFAULT_ALLOWED_HOSTS, endpointPolicy } from '../fhir/subscriptions/endpoint-policy';
import { FULL_RESOURCE_PAYLOAD } from '../fhir/subscriptions/subscription-definition';
import { notificationBundle, type NotificationType } from '../fhir/subscriptions/notification-bundle';
import { postNotification } from '../fhir/subscriptions/rest-hook-sender';
import {
  type ClaimedSubscription,
  claimDueSubscriptions,
  type DeliveryOutcome,
  notifiedVersion,
  recordDelivery,
} from '../fhir/subscriptions/subscription-delivery-store';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';

/** Subscriptions served per run (each in parallel with the others; the rest next second). */
const SUBSCRIPTIONS_PER_RUN = 20;

const defaultPolicy = endpointPolicy(DEFAULT_ALLOWED_HOSTS);

/** One subscription's part of a run. */
export interface SubscriptionDelivery {
  readonly subscriptionId: string;
  readonly handshake: boolean;
  readonly delivered: number;
  readonly heartbeat: boolean;
  readonly failure?: string;
  /** The status it has after the run. */
  readonly status?: string;
}

/** Sends what is due; undefined when another instance is running the job. */
export async function subscriptionDeliveryJob(deps: JobDeps): Promise<SubscriptionDelivery[] | undefined> {
  const now = deps.clock.now();
  const run = await runUnderAdvisoryLock(deps.db, 'subscription-delivery', (trx) => claimDueSubscriptions(trx, now, SUBSCRIPTIONS_PER_RUN));
  if (!run.ran) return undefined;
  return Promise.all(run.result.map((claimed) => deliver(deps, claimed)));
}

async function deliver(deps: JobDeps, claimed: ClaimedSubscription): Promise<SubscriptionDelivery> {
  const policy: EndpointPolicy = deps.subscriptionEndpoints ?? defaultPolicy;
  const fhirBase = `${deps.baseUrl}/fhir`;
  let status = claimed.status;
  let events = claimed.events_delivered;
  const send = async (type: NotificationType, event?: Parameters<typeof notificationBundle>[0]['event']) => {
    const bundle = notificationBundle({
      fhirBase,
      subscriptionId: claimed.id,
      status,
      type,
      eventsSinceStart: events + (event ? 1 : 0),
      event,
      now: deps.clock.now(),
    });
    return postNotification(claimed.endpoint, claimed.headers, JSON.stringify(bundle), policy);
  };
  let handshakeDone = false;
  let heartbeat = false;
  let failure: string | undefined;
  const delivered: string[] = [];
  const leftOut: string[] = [];
  if (claimed.handshake_pending) {
    status = 'requested';
    const result = await send('handshake');
    if (result.ok) [handshakeDone, status] = [true, 'active'];
    else failure = `handshake: ${result.reason}`;
  }
  for (const notification of failure ? [] : claimed.notifications) {
    const judged = await notifiedVersion(deps.db, claimed.scope, notification);
    // The subscription's access no longer admits it (written since by someone who sees less): it is not told of it.
    if (judged === 'not-admitted') {
      leftOut.push(notification.seq);
      continue;
    }
    const version = claimed.payload === FULL_RESOURCE_PAYLOAD ? judged : undefined;
    const event = {
      number: events + 1,
      timestamp: new Date(notification.queued_at).toISOString(),
      type: notification.resource_type,
      id: notification.resource_id,
      resource: version && !version.deleted ? version.resource : undefined,
      deleted: version?.deleted,
    };
    const result = await send('event-notification', event);
    if (!result.ok) {
      failure = result.reason;
      break;
    }
    delivered.push(notification.seq);
    events += 1;
  }
  const sentSomething = handshakeDone || delivered.length > 0;
  if (!failure && !sentSomething && heartbeatDue(claimed, deps.clock.now())) {
    const result = await send('heartbeat');
    if (result.ok) heartbeat = true;
    else failure = `heartbeat: ${result.reason}`;
  }
  const outcome: DeliveryOutcome = { claimed, handshakeDone, delivered, leftOut, sent: sentSomething || heartbeat, failure };
  const recorded = await recordDelivery(deps.db, outcome, deps.clock.now());
  if (failure) deps.logger?.warn({ subscription: claimed.id, reason: failure }, 'subscription delivery failed');
  return { subscriptionId: claimed.id, handshake: handshakeDone, delivered: delivered.length, heartbeat, failure, status: recorded };
}

function heartbeatDue(claimed: ClaimedSubscription, now: Date): boolean {
  if (claimed.heartbeat_seconds === null || claimed.status !== 'active' || claimed.handshake_pending) return false;
  return !claimed.last_sent_at || new Date(claimed.last_sent_at).getTime() + claimed.heartbeat_seconds * 1000 <= now.getTime();
}
