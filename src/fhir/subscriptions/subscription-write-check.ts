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
 *
 * A Subscription notifies with the access of its owner's organisation (subscription-outbox.ts: ownerScope), which
 * keeps nothing of a SMART token's scopes. So a writer whose token does not read the criteria's type across the
 * organisation (it names other types only, or the type only through a scope with a query, which shows some of its
 * resources: resource-filter.ts) may not subscribe to it: the notifications would show what their searches do not.
 */
export function checkSubscriptionWrite(scope: AccessScope, subscription: Subscription, policy: EndpointPolicy = defaultPolicy): void {
  if (scope.portalRules || scope.releasedOnly)
    throw forbidden('Portal accounts cannot subscribe; Subscriptions are for staff and backend clients');
  const { resourceType } = subscriptionDefinition(subscription, policy);
  if (scope.unrestricted) return;
  if (scope.resourceFilters?.has(resourceType))
    throw forbidden(
      `Your access token reads ${resourceType} only through a scope with a query; a Subscription to ${resourceType} needs a scope without one`,
    );
  const readable =
    scope.sharedTypes.has(resourceType) || (!!scope.organizationId && (!scope.allowedTypes || scope.allowedTypes.has(resourceType)));
  if (!readable) throw forbidden(`Your access does not read ${resourceType} across your organisation; you cannot subscribe to it`);
}
