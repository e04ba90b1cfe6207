/**
 * The notifications a rest-hook receives, in the R4 form of the Subscriptions Backport IG: a `history` Bundle whose
 * first entry is a Parameters resource (the subscription's status: which subscription, its status, the kind of
 * notification and how many events it has sent), followed, for a full-resource payload, by the resource itself, or
 * for a delete by an entry with the DELETE request and no resource.
 * Event numbers count from 1 for each Subscription and go up by one per event, so a receiver sees a gap at once.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';

/** The profile of the status Parameters (Backport IG, R4). */
export const SUBSCRIPTION_STATUS_PROFILE =
  'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4';

/** handshake: on activation; heartbeat: nothing to say for a while; event-notification: a matching write. */
export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification';

/** One matching write, as a notification names it. */
export interface NotificationEvent {
  readonly number: number;
  readonly timestamp: string;
  readonly type: string;
  readonly id: string;
  /** The version written, sent for a full-resource payload. */
  readonly resource?: Resource;
  /** The write was a delete (told for a full-resource payload, as an entry without a resource). */
  readonly deleted?: boolean;
}

/** Everything one notification says. */
export interface NotificationInput {
  readonly fhirBase: string;
  readonly subscriptionId: string;
  readonly status: string;
  readonly type: NotificationType;
  /** Events sent before this notification, plus its own. */
  readonly eventsSinceStart: number;
  readonly event?: NotificationEvent;
  readonly now: Date;
}

/** Builds the notification Bundle. */
export function notificationBundle(input: NotificationInput): Bundle {
  const subscription = `${input.fhirBase}/Subscription/${input.subscriptionId}`;
  const parameter: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: subscription } },
    { name: 'status', valueCode: input.status },
    { name: 'type', valueCode: input.type },
    { name: 'events-since-subscription-start', valueString: String(input.eventsSinceStart) },
  ];
  const { event } = input;
  if (event) {
    parameter.push({
      name: 'notification-event',
      part: [
        { name: 'event-number', valueString: String(event.number) },
        { name: 'timestamp', valueInstant: event.timestamp },
        { name: 'focus', valueReference: { reference: `${input.fhirBase}/${event.type}/${event.id}` } },
      ],
    });
  }
  const status: Parameters = { resourceType: 'Parameters', id: randomUUID(), meta: { profile: [SUBSCRIPTION_STATUS_PROFILE] }, parameter };
  const entry: BundleEntry[] = [
    {
      fullUrl: `urn:uuid:${status.id}`,
      resource: status,
      request: { method: 'GET', url: `${subscription}/$status` },
      response: { status: '200' },
    },
  ];
  if (event?.deleted) {
    entry.push({
      fullUrl: `${input.fhirBase}/${event.type}/${event.id}`,
      request: { method: 'DELETE', url: `${event.type}/${event.id}` },
      response: { status: '204' },
    });
  } else if (event?.resource) {
    const version = event.resource.meta?.versionId;
    entry.push({
      fullUrl: `${input.fhirBase}/${event.type}/${event.id}`,
      resource: event.resource,
      request: { method: version === '1' ? 'POST' : 'PUT', url: version === '1' ? event.type : `${event.type}/${event.id}` },
      response: { status: version === '1' ? '201' : '200' },
    });
  }
  return { resourceType: 'Bundle', id: randomUUID(), type: 'history', timestamp: input.now.toISOString(), entry };
}
