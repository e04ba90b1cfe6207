/**
 * What a stored R4 `Subscription` asks for, as the delivery machinery uses it, and why a Subscription is refused.
 * Chartkeeper takes R4's own form: `criteria` is a search (`DocumentReference?status=current`), `channel.type` is
 * `rest-hook`, `channel.payload` absent (id-only notifications) or `application/fhir+json` (the resource too), and
 * `channel.header` the receiver's own headers (its credentials). A heartbeat is asked with the Subscriptions Backport
 * IG's `backport-heartbeat-period` extension on the channel. Notifications are the Backport IG's R4 notification
 * Bundles (handshake, heartbeat, event-notification), so a receiver of either form reads them.
 */
import type { Subscription } from '@medplum/fhirtypes';
import { filterCondition } from '../search/search-filters';
import { parseSearch } from '../search/parse-search';
import { isSupportedType } from '../definitions';
import { badRequest, FhirError } from '../outcomes';
import { type EndpointPolicy, endpointProblem } from './endpoint-policy';

/** The Backport IG extension on Subscription.channel giving the heartbeat period in seconds. */
export const HEARTBEAT_EXTENSION = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period';

/** The payload that sends the resource with each notification. */
export const FULL_RESOURCE_PAYLOAD = 'application/fhir+json';

/** Types a Subscription may not watch: the service's own log, and subscriptions themselves. */
const UNWATCHABLE = new Set(['AuditEvent', 'Subscription']);

/** Headers the service sets itself, which a channel may not override. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'expect',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'proxy-authorization',
]);

/** Limits: a Subscription is configuration, not data. */
const MAX_HEADERS = 10;
const MAX_HEADER_LENGTH = 4096;
const MAX_ENDPOINT_LENGTH = 2048;
const MAX_CRITERIA_LENGTH = 2048;
/** Heartbeats between 10 seconds and a day. */
const HEARTBEAT_RANGE = [10, 86_400] as const;

/** A Subscription as delivery uses it. */
export interface SubscriptionDefinition {
  readonly resourceType: string;
  /** The criteria's query string, without the type and `?` (empty: every resource of the type). */
  readonly query: string;
  readonly endpoint: string;
  readonly payload: string | null;
  readonly headers: readonly string[];
  readonly heartbeatSeconds: number | null;
  readonly status: string;
}

/**
 * Reads a Subscription into its definition; throws 400 naming what is wrong, checking the endpoint against `policy`
 * (null: the endpoint was checked when the write was prepared).
 */
export function subscriptionDefinition(subscription: Subscription, policy: EndpointPolicy | null): SubscriptionDefinition {
  const criteria = subscription.criteria ?? '';
  if (criteria.length > MAX_CRITERIA_LENGTH)
    throw badRequest(`Subscription.criteria may be at most ${MAX_CRITERIA_LENGTH} characters`, 'Subscription.criteria');
  const match = /^([A-Z][A-Za-z]+)(?:\?(.*))?$/.exec(criteria);
  if (!match)
    throw badRequest(
      `Subscription.criteria must be a search such as "DocumentReference?status=current", got "${criteria}"`,
      'Subscription.criteria',
    );
  const [, resourceType, query = ''] = match;
  if (!isSupportedType(resourceType) || UNWATCHABLE.has(resourceType))
    throw badRequest(`Subscription.criteria: ${resourceType} cannot be subscribed to`, 'Subscription.criteria');
  checkCriteria(resourceType, query);
  const channel = subscription.channel;
  if (channel?.type !== 'rest-hook')
    throw badRequest(
      `Subscription.channel.type must be rest-hook (the only channel this service delivers), got "${channel?.type ?? ''}"`,
      'Subscription.channel.type',
    );
  const endpoint = channel.endpoint ?? '';
  if (!endpoint) throw badRequest('A rest-hook Subscription needs channel.endpoint', 'Subscription.channel.endpoint');
  if (endpoint.length > MAX_ENDPOINT_LENGTH)
    throw badRequest(`Subscription.channel.endpoint may be at most ${MAX_ENDPOINT_LENGTH} characters`, 'Subscription.channel.endpoint');
  const problem = policy ? endpointProblem(endpoint, policy) : undefined;
  if (problem) throw badRequest(`Subscription.channel.endpoint refused: ${problem}`, 'Subscription.channel.endpoint', 'security');
  const payload = channel.payload ? channel.payload.split(';')[0].trim() : null;
  if (payload !== null && payload !== FULL_RESOURCE_PAYLOAD && payload !== 'application/json') {
    throw badRequest(
      `Subscription.channel.payload must be absent (id-only) or ${FULL_RESOURCE_PAYLOAD}, got "${channel.payload}"`,
      'Subscription.channel.payload',
    );
  }
  return {
    resourceType,
    query,
    endpoint,
    payload: payload === null ? null : FULL_RESOURCE_PAYLOAD,
    headers: checkHeaders(channel.header ?? []),
    heartbeatSeconds: heartbeatOf(channel.extension ?? []),
    status: subscription.status ?? 'requested',
  };
}

/** The criteria must be filters this service searches on (chains included): no paging, sorting or includes. */
function checkCriteria(type: string, query: string): void {
  const request = parseSearch(type, query);
  const params = new URLSearchParams(query);
  const extra = [...params.keys()].find((key) => key.startsWith('_') && !['_id', '_lastUpdated'].includes(key.split(':')[0]));
  if (extra) throw badRequest(`Subscription.criteria may only filter; "${extra}" is not a filter`, 'Subscription.criteria');
  for (const filter of request.filters ?? []) {
    try {
      filterCondition(type, filter);
    } catch (err) {
      if (err instanceof FhirError)
        throw badRequest(
          `Subscription.criteria: ${err.outcome.issue?.[0]?.details?.text ?? 'not a supported search'}`,
          'Subscription.criteria',
        );
      throw err;
    }
  }
}

function checkHeaders(headers: readonly string[]): string[] {
  if (headers.length > MAX_HEADERS)
    throw badRequest(`Subscription.channel.header may hold at most ${MAX_HEADERS} headers`, 'Subscription.channel.header');
  for (const header of headers) {
    const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*)$/.exec(header);
    if (header.length > MAX_HEADER_LENGTH || !match)
      throw badRequest('Each Subscription.channel.header must be "Name: value" on one line', 'Subscription.channel.header');
    if (RESERVED_HEADERS.has(match[1].toLowerCase()))
      throw badRequest(`Subscription.channel.header may not set ${match[1]}: the service sets it`, 'Subscription.channel.header');
  }
  return [...headers];
}

function heartbeatOf(extensions: readonly { url?: string; valueUnsignedInt?: number; valueInteger?: number }[]): number | null {
  const extension = extensions.find((e) => e.url === HEARTBEAT_EXTENSION);
  if (!extension) return null;
  const seconds = extension.valueUnsignedInt ?? extension.valueInteger;
  if (seconds === undefined || !Number.isInteger(seconds) || seconds < HEARTBEAT_RANGE[0] || seconds > HEARTBEAT_RANGE[1]) {
    throw badRequest(
      `The heartbeat period must be ${HEARTBEAT_RANGE[0]} to ${HEARTBEAT_RANGE[1]} seconds`,
      'Subscription.channel.extension',
    );
  }
  return seconds;
}
