import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AgePolicy } from '../access/age-policy-profiles';
import type { Tables } from '../db/tables';
import type { Clock } from '../fhir/clock';
import type { Mailer } from '../mail/mailer';
import type { EndpointPolicy } from '../fhir/subscriptions/endpoint-policy';

/** What the scheduled jobs run with; tests call each job function directly with a fixed clock. */
export interface JobDeps {
  readonly db: Kysely<Tables>;
  readonly clock: Clock;
  readonly mailer: Mailer;
  /** The organization's time zone: "a week before the birthday" is counted on its calendar. */
  readonly timeZone: string;
  readonly policy: AgePolicy;
  /** Public base URL of the service. */
  readonly baseUrl: string;
  /** The portal frontend the notices' links open (PORTAL_URL); undefined: baseUrl. */
  readonly portalUrl?: string;
  readonly logger?: Logger;
  /** Where Subscriptions may deliver (SUBSCRIPTION_ALLOW_HOSTS); default: public https, http on loopback. */
  readonly subscriptionEndpoints?: EndpointPolicy;
  /** How long a completed export's files are kept (EXPORT_FILE_TTL_SECONDS); default a day. */
  readonly exportFileTtlSeconds?: number;
}
