/**
 * What the delivery job reads and writes: it claims the subscriptions with something to send (a lease, so one sender
 * at a time handles a subscription, in order, whichever instance runs the job), reads the versions to send, and then
 * records how the delivery went: sent notifications leave the outbox, failures count up with exponential backoff, and
 * the Subscription resource's status (`active`, `error` with the reason) follows.
 */
import type { Resource, Subscription } from '@medplum/fhirtypes';
import { type Kysely, sql } from 'kysely';
import type { AccessScope } from '../../access/access-scope';
import { versionVisibilityCondition } from '../../access/visibility';
import type { Tables } from '../../db/tables';
import { lockCurrent, prepareWrite, replaceCurrent } from '../resource-writer';
import { endedContent, versionAdmitted } from '../version-filter';
import { ownerScope } from './subscription-outbox';

/** Retries: the delay doubles from `baseSeconds` up to `maxSeconds`; `errorAfter` failures in a row mark the Subscription `error`. */
export const DELIVERY_RETRY = Object.freeze({ baseSeconds: 5, maxSeconds: 3600, errorAfter: 3 });

/** How long a claimed subscription is held: longer than a run's deliveries can take, short enough to recover from a crash. */
export const LEASE_SECONDS = 120;

/** Notifications sent per subscription per run (the rest next run, in order). */
const NOTIFICATIONS_PER_RUN = 50;

/** A notification waiting in the outbox. */
export interface QueuedNotification {
  readonly seq: string;
  readonly resource_type: string;
  readonly resource_id: string;
  readonly version: number;
  readonly queued_at: Date;
}

/** A subscription claimed for one run, with the notifications to send, oldest first. */
export interface ClaimedSubscription {
  readonly id: string;
  readonly endpoint: string;
  readonly payload: string | null;
  readonly headers: string[];
  readonly heartbeat_seconds: number | null;
  readonly status: string;
  readonly handshake_pending: boolean;
  readonly events_delivered: number;
  readonly last_sent_at: Date | null;
  /** The access it notifies with (subscription-outbox.ts: ownerScope). */
  readonly scope: AccessScope;
  readonly notifications: QueuedNotification[];
}

/** How one run's delivery to one subscription went. */
export interface DeliveryOutcome {
  readonly claimed: ClaimedSubscription;
  readonly handshakeDone: boolean;
  /** The outbox rows the receiver took. */
  readonly delivered: readonly string[];
  /** The outbox rows left out, unsent and unnumbered: versions the subscription's access no longer admits. */
  readonly leftOut?: readonly string[];
  /** Anything (handshake, event, heartbeat) was taken. */
  readonly sent: boolean;
  readonly failure?: string;
}

/** Claims up to `limit` subscriptions that have something due (handshake, notifications, heartbeat), under a lease. */
export async function claimDueSubscriptions(db: Kysely<Tables>, now: Date, limit: number): Promise<ClaimedSubscription[]> {
  const leaseUntil = new Date(now.getTime() + LEASE_SECONDS * 1000);
  const { rows } = await sql<
    Omit<ClaimedSubscription, 'notifications' | 'events_delivered' | 'scope'> & {
      events_delivered: string;
      owner_organization: string | null;
      owner_access: unknown;
    }
  >`
    update subscription s set lease_until = ${leaseUntil}
    where s.id in (
      select c.id from subscription c
      where c.status <> 'off' and c.next_attempt_at <= ${now} and (c.lease_until is null or c.lease_until <= ${now})
        and (c.handshake_pending
          or exists (select 1 from subscription_notification n where n.subscription_id = c.id)
          or (c.status = 'active' and c.heartbeat_seconds is not null
            and (c.last_sent_at is null or c.last_sent_at <= ${now}::timestamptz - c.heartbeat_seconds * interval '1 second')))
      order by c.next_attempt_at, c.id
      limit ${limit}
      for update skip locked)
    returning s.id, s.endpoint, s.payload, s.headers, s.heartbeat_seconds, s.status, s.handshake_pending, s.events_delivered, s.last_sent_at,
      s.owner_organization, s.owner_access`.execute(db);
  const claimed: ClaimedSubscription[] = [];
  for (const { owner_organization, owner_access, ...row } of rows) {
    const notifications = await db
      .selectFrom('subscription_notification')
      .select(['seq', 'resource_type', 'resource_id', 'version', 'queued_at'])
      .where('subscription_id', '=', row.id)
      .orderBy('seq')
      .limit(NOTIFICATIONS_PER_RUN)
      .execute();
    claimed.push({
      ...row,
      headers: typeof row.headers === 'string' ? (JSON.parse(row.headers) as string[]) : row.headers,
      events_delivered: Number(row.events_delivered),
      scope: ownerScope({ id: row.id, owner_organization, owner_access }),
      notifications,
    });
  }
  return claimed;
}

/** The version a notification is about, as written: the resource, or the delete. */
export type NotifiedVersion = { readonly deleted: false; readonly resource: Resource } | { readonly deleted: true };

/**
 * The version a notification is about, if the subscription's access (`scope`) admits it now: matched when it was
 * queued, it is judged again as it is sent, since the Subscription may have been written since by someone who sees
 * less. A version of a type the access does not read, outside its records, or that its SMART query scopes do not let
 * through (judged on the version's own content, or for a delete on the content it ended) is 'not-admitted'; one that
 * is gone, undefined.
 */
export async function notifiedVersion(
  db: Kysely<Tables>,
  scope: AccessScope,
  notification: QueuedNotification,
): Promise<NotifiedVersion | 'not-admitted' | undefined> {
  const visible = versionVisibilityCondition(scope, notification.resource_type, 'h');
  const { rows } = await sql<{ content: string; deleted: boolean; owners: string[]; ended_content: string | null; visible: boolean }>`
    select h.content, h.deleted, h.owners, ${endedContent('h')} as ended_content, ${visible ?? sql`true`} as visible
    from resource_history h
    where h.resource_type = ${notification.resource_type} and h.id = ${notification.resource_id} and h.version = ${notification.version}`.execute(
    db,
  );
  const row = rows[0];
  if (!row) return undefined;
  const judged = { resource_type: notification.resource_type, id: notification.resource_id, ...row };
  if (!row.visible || !versionAdmitted(scope, judged)) return 'not-admitted';
  return row.deleted ? { deleted: true } : { deleted: false, resource: JSON.parse(row.content) as Resource };
}

/** The delay before the next try after `failures` failures in a row. */
export function retryDelaySeconds(failures: number): number {
  return Math.min(DELIVERY_RETRY.baseSeconds * 2 ** Math.max(failures - 1, 0), DELIVERY_RETRY.maxSeconds);
}

/**
 * Records a run's outcome for one subscription and releases its lease; answers the status it now has. A subscription
 * changed while it was being sent to (new endpoint, set off, deleted) keeps what its writer gave it.
 */
export async function recordDelivery(db: Kysely<Tables>, outcome: DeliveryOutcome, now: Date): Promise<string | undefined> {
  return db.transaction().execute(async (trx) => {
    const done = [...outcome.delivered, ...(outcome.leftOut ?? [])];
    if (done.length) await trx.deleteFrom('subscription_notification').where('seq', 'in', done).execute();
    const row = await trx.selectFrom('subscription').selectAll().where('id', '=', outcome.claimed.id).forUpdate().executeTakeFirst();
    if (!row) return undefined;
    const same = row.endpoint === outcome.claimed.endpoint;
    const failures = outcome.failure ? row.failures + 1 : 0;
    let status = row.status;
    let error = row.error;
    if (same && row.status !== 'off') {
      if (outcome.failure && failures >= DELIVERY_RETRY.errorAfter)
        [status, error] = ['error', `Delivery to the endpoint failed ${failures} times in a row; the last: ${outcome.failure}`];
      else if (!outcome.failure && outcome.sent) [status, error] = ['active', null];
    }
    const next = outcome.failure ? new Date(now.getTime() + retryDelaySeconds(failures) * 1000) : now;
    await trx
      .updateTable('subscription')
      .set({
        lease_until: null,
        events_delivered: sql`events_delivered + ${outcome.delivered.length}`,
        ...(outcome.sent ? { last_sent_at: now } : {}),
        ...(same ? { failures, next_attempt_at: next, status, error, ...(outcome.handshakeDone ? { handshake_pending: false } : {}) } : {}),
      })
      .where('id', '=', row.id)
      .execute();
    if (status !== row.status || error !== row.error) await writeStatus(trx, row.id, status, error, now);
    return status;
  });
}

/**
 * Writes the Subscription resource's new status (and `error`) as a new version, kept where it was (its organisation),
 * after the delivery row already holds that status, which is what lets the write through the outbox's status rule.
 */
async function writeStatus(db: Kysely<Tables>, id: string, status: string, error: string | null, now: Date): Promise<void> {
  const current = await lockCurrent(db, 'Subscription', id);
  if (!current || current.deleted) return;
  const { error: _previous, ...stored } = JSON.parse(current.content) as Subscription & { id: string };
  const resource = { ...stored, status, ...(error ? { error } : {}) } as Subscription & { id: string };
  await replaceCurrent(db, [
    prepareWrite(resource, current.version + 1, now, { compartments: current.compartments, owners: current.owners }),
  ]);
}
