/** Who may write a Subscription, and what it may ask for, checked when the write is prepared. */
import type { Subscription } from '@medplum/fhirtypes';
import type { AccessScope } from '../../access/access-scope';
import { forbidden } from '../outcomes';
import { DEFAULT_ALLOWED_HOSTS, type EndpointPolicy, endpointPolicy } from './endpoint-policy';
import { subscriptionDefinition } from './subscription-definition';

const defaultPolicy = endpointPolicy(DEFAULT_ALLOWED_HOSTS);

/**
 * Staff of an organisation, backend clients and the operator subscribe; a portal caller (patient, family member)
 * never does: a Subscription sends data to a server of the writer's choosing. Throws 403 or a 400 naming the problem.
 */
export function checkSubscriptionWrite(scope: AccessScope, subscription: Subscription, policy: EndpointPolicy = defaultPolicy): void {
  if (scope.portalRules || scope.releasedOnly)
    throw forbidden('Portal accounts cannot subscribe; Subscriptions are for staff and backend clients');
  subscriptionDefinition(subscription, policy);
}
