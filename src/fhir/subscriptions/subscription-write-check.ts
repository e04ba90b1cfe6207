/** Who may write a Subscription, what it may ask for, and the access it keeps, checked when the write is prepared. */
import type { Subscription } from '@medplum/fhirtypes';
import type { AccessScope } from '../../access/access-scope';
import { type KeptAccess, keptAccessOf } from '../../access/kept-access';
import { forbidden } from '../outcomes';
import { DEFAULT_ALLOWED_HOSTS, type EndpointPolicy, endpointPolicy } from './endpoint-policy';
import { subscriptionDefinition } from './subscription-definition';

const defaultPolicy = endpointPolicy(DEFAULT_ALLOWED_HOSTS);

/** Whose a Subscription is: who wrote it (their scope's description) and the access its notifications have. */
export interface SubscriptionOwner {
  readonly owner: string;
  readonly access: KeptAccess;
}

/**
 * Staff of an organisation, backend clients and the operator subscribe; a portal caller (patient, family member)
 * never does: a Subscription sends data to a server of the writer's choosing. Throws 403 or a 400 naming the problem;
 * answers the owner the Subscription is kept for.
 *
 * A Subscription notifies with the access of whoever wrote it last, SMART scopes and their queries included
 * (subscription-outbox.ts: ownerScope): it never tells of more than its writer's own searches find. A writer whose
 * access is shaped per patient (a token launched for one patient) cannot leave it behind, and one whose token does
 * not read the criteria's type at all would hear of nothing: both are refused rather than kept silent.
 */
export function checkSubscriptionWrite(
  scope: AccessScope,
  subscription: Subscription,
  policy: EndpointPolicy = defaultPolicy,
): SubscriptionOwner {
  if (scope.portalRules || scope.releasedOnly)
    throw forbidden('Portal accounts cannot subscribe; Subscriptions are for staff and backend clients');
  const { resourceType } = subscriptionDefinition(subscription, policy);
  const access = keptAccessOf(scope);
  if (!access)
    throw forbidden(`Your access is to one patient's record (a patient launch); a Subscription needs access across your organisation`);
  const readable =
    scope.unrestricted ||
    scope.sharedTypes.has(resourceType) ||
    (!!scope.organizationId && (!scope.allowedTypes || scope.allowedTypes.has(resourceType)));
  if (!readable) throw forbidden(`Your access does not read ${resourceType} across your organisation; you cannot subscribe to it`);
  return { owner: scope.description, access };
}
