/**
 * The transactional outbox of rest-hook notifications. The resource writer calls `queueNotifications` with every
 * version it writes, inside the write's own transaction: a Subscription's delivery row is kept in step with the
 * resource, and each other version that matches an active Subscription's criteria, as its owner may see it (the access
 * its last writer kept, SMART scopes included), queues one notification row; so does a delete of a resource that
 * matched just before it. A write that rolls back queues nothing; one that commits has its notifications committed with it,
 * for the delivery job (src/jobs/subscription-delivery-job.ts) to send at least once, whatever happens in between.
 */
import type { Resource, Subscription } from '@medplum/fhirtypes';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { type AccessScope, unrestrictedScope } from '../../access/access-scope';
import { type KeptAccess, keptAccessScope } from '../../access/kept-access';
import { staffScope } from '../../access/portal-scope';
import { prepared } from '../../db/prepared-statement';
import type { Tables } from '../../db/tables';
import { badRequest } from '../outcomes';
import { executeSearch } from '../search/search-executor';
import { parseSearch } from '../search/parse-search';
import { subscriptionDefinition } from './subscription-definition';
import type { SubscriptionOwner } from './subscription-write-check';

/** What the outbox needs of a written version (resource-writer's PreparedWrite). */
export interface WrittenVersion {
  readonly resource: Resource & { id: string };
  readonly version: number;
  readonly lastUpdated: string;
  readonly deleted: boolean;
  readonly owners: readonly string[];
  /** A Subscription written by a caller: its new owner (absent: the service's own write, which keeps the owner). */
  readonly subscriptionOwner?: SubscriptionOwner;
}

/** Types no Subscription watches: writing them queues nothing and costs no query. */
const UNWATCHED = new Set(['AuditEvent', 'Subscription']);

/** Ids matched per criteria search (well within a search's 200 values). */
const MATCH_CHUNK = 100;

/** Statuses a client may write; active and error are the service's to set. */
const CLIENT_STATUSES = new Set(['requested', 'off']);

/** An active Subscription, as matching a write needs it. */
export interface ActiveSubscription {
  readonly id: string;
  readonly resource_type: string;
  readonly criteria: string;
  readonly owner_organization: string | null;
  /** The access its writer held (src/access/kept-access.ts), null for one kept from before it was stored. */
  readonly owner_access: unknown;
}

/** The active Subscriptions on these types, in the order they are matched. */
export function activeSubscriptions(types: readonly string[]): RawBuilder<ActiveSubscription> {
  return sql<ActiveSubscription>`select id, resource_type, criteria, owner_organization, owner_access from subscription
    where status <> 'off' and resource_type = any(${types}::text[]) order by id`;
}

/**
 * The types whose active Subscriptions queueNotifications will match these new versions against, so that the
 * statement writing them can read those Subscriptions too (one round trip less); undefined when the versions include a
 * Subscription, whose own write changes which are active before the others are matched.
 */
export function watchedTypes(writes: readonly WrittenVersion[]): string[] | undefined {
  if (writes.some((w) => w.resource.resourceType === 'Subscription')) return undefined;
  return [...new Set(writes.filter((w) => !w.deleted && !UNWATCHED.has(w.resource.resourceType)).map((w) => w.resource.resourceType))];
}

/** Whether writing this version may queue a notification (a non-transactional write of it must take a transaction). */
export function mayNotify(write: WrittenVersion): boolean {
  return write.resource.resourceType === 'Subscription' || !UNWATCHED.has(write.resource.resourceType);
}

/** One notification to queue. */
export interface QueuedRow {
  readonly subscription_id: string;
  readonly resource_type: string;
  readonly resource_id: string;
  readonly version: number;
  readonly queued_at: string;
}

/**
 * The notifications the deletes among these versions make, found before the deletes are written: a deleted resource
 * leaves search, so it is matched as it stands just before, and notifies every Subscription whose criteria it met
 * then, as that Subscription's owner may see it. Pass them to queueNotifications once the deletes are written.
 */
export async function matchDeletions(db: Kysely<Tables>, writes: readonly WrittenVersion[]): Promise<QueuedRow[]> {
  return matchWrites(
    db,
    writes.filter((w) => w.deleted && !UNWATCHED.has(w.resource.resourceType)),
  );
}

/**
 * Keeps Subscriptions' delivery rows in step and queues the notifications these versions make, and `deletions`
 * (matchDeletions). Call inside their transaction, once they are written.
 */
export async function queueNotifications(
  db: Kysely<Tables>,
  writes: readonly WrittenVersion[],
  deletions: readonly QueuedRow[] = [],
  active?: readonly ActiveSubscription[],
): Promise<void> {
  for (const write of writes) if (write.resource.resourceType === 'Subscription') await syncSubscription(db, write);
  const queued = [
    ...deletions,
    ...(await matchWrites(
      db,
      writes.filter((w) => !w.deleted && !UNWATCHED.has(w.resource.resourceType)),
      active,
    )),
  ];
  if (queued.length) await db.insertInto('subscription_notification').values(queued).execute();
}

/** The notifications of the active Subscriptions whose criteria these versions (as the database holds them now) meet. */
async function matchWrites(
  db: Kysely<Tables>,
  watched: readonly WrittenVersion[],
  active?: readonly ActiveSubscription[],
): Promise<QueuedRow[]> {
  if (!watched.length) return [];
  const types = [...new Set(watched.map((w) => w.resource.resourceType))];
  const subscriptions = active ?? (await prepared(activeSubscriptions(types)).execute(db)).rows;
  const queued: QueuedRow[] = [];
  for (const subscription of subscriptions) {
    const candidates = watched.filter((w) => w.resource.resourceType === subscription.resource_type);
    const matched = await matchingIds(
      db,
      ownerScope(subscription),
      subscription.resource_type,
      subscription.criteria,
      candidates.map((w) => w.resource.id),
    );
    for (const w of candidates) {
      if (matched.has(w.resource.id)) {
        queued.push({
          subscription_id: subscription.id,
          resource_type: w.resource.resourceType,
          resource_id: w.resource.id,
          version: w.version,
          queued_at: w.lastUpdated,
        });
      }
    }
  }
  return queued;
}

/**
 * The access a Subscription notifies with: the one its last writer kept (their organisation's records, or everything,
 * narrowed by their SMART scopes and query scopes). One written before migration 0025 kept none: it has its
 * organisation's full access (everything for the operator's), as it had when it was accepted.
 */
export function ownerScope(subscription: { id: string; owner_organization: string | null; owner_access: unknown }): AccessScope {
  const description = `Subscription/${subscription.id}`;
  const kept = storedAccess(subscription.owner_access);
  if (kept) return keptAccessScope(kept, description);
  return subscription.owner_organization === null
    ? unrestrictedScope(description)
    : staffScope(subscription.owner_organization, description);
}

/** The kept access as the jsonb column gives it back (node-postgres parses it; PGlite may give its text). */
function storedAccess(column: unknown): KeptAccess | undefined {
  if (column === null || column === undefined) return undefined;
  return (typeof column === 'string' ? JSON.parse(column) : column) as KeptAccess;
}

/**
 * The ids among `ids` that the criteria match, searched as the owner searches (their access condition applies), in
 * the write's transaction, so the versions just written are what is matched.
 */
async function matchingIds(
  db: Kysely<Tables>,
  scope: AccessScope,
  type: string,
  criteria: string,
  ids: readonly string[],
): Promise<Set<string>> {
  const matched = new Set<string>();
  for (let i = 0; i < ids.length; i += MATCH_CHUNK) {
    const chunk = ids.slice(i, i + MATCH_CHUNK);
    const query = new URLSearchParams(criteria);
    query.append('_id', chunk.join(','));
    const request = { ...parseSearch(type, query.toString()), count: chunk.length, offset: 0 };
    const bundle = await executeSearch(db, scope, request, { url: '', params: new URLSearchParams() }, '');
    for (const entry of bundle.entry ?? []) if (entry.resource?.id) matched.add(entry.resource.id);
  }
  return matched;
}

/** The organisation a Subscription is kept for (write-placement keeps what staff write outside records for theirs). */
function ownerOrganization(owners: readonly string[]): string | null {
  const owner = owners.find((o) => o.startsWith('Organization/'));
  return owner && owner.length > 'Organization/'.length ? owner.slice('Organization/'.length) : null;
}

/**
 * Writes a Subscription's delivery row from the version just written. A new one, one whose endpoint, criteria,
 * payload or headers changed, and one asked for again (`requested`) start over with a handshake. The status a client
 * writes is `requested` or `off`, or the one the service set; `active` and `error` are the delivery job's to set.
 */
async function syncSubscription(db: Kysely<Tables>, write: WrittenVersion): Promise<void> {
  const id = write.resource.id;
  if (write.deleted) {
    await db.deleteFrom('subscription').where('id', '=', id).execute();
    return;
  }
  const definition = subscriptionDefinition(write.resource as Subscription, null);
  const current = await db.selectFrom('subscription').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!CLIENT_STATUSES.has(definition.status) && definition.status !== current?.status) {
    throw badRequest(
      `Subscription.status must be requested or off: the service makes a Subscription ${definition.status}`,
      'Subscription.status',
    );
  }
  // A caller's write makes the Subscription theirs, with their access (as a search of theirs would see); the service's
  // own writes (its status) keep the owner it has.
  const owner = write.subscriptionOwner;
  const columns = {
    ...(owner ? { owner: owner.owner, owner_access: JSON.stringify(owner.access) } : {}),
    resource_type: definition.resourceType,
    criteria: definition.query,
    endpoint: definition.endpoint,
    payload: definition.payload,
    headers: JSON.stringify(definition.headers),
    heartbeat_seconds: definition.heartbeatSeconds,
    status: definition.status,
  };
  const restart = { handshake_pending: true, failures: 0, error: null, next_attempt_at: write.lastUpdated };
  if (!current) {
    // Whose access it has is settled when it is created: by whom it was written (kept for their organisation).
    await db
      .insertInto('subscription')
      .values({ id, owner_organization: ownerOrganization(write.owners), ...columns, ...restart })
      .execute();
    return;
  }
  const changed =
    current.resource_type !== columns.resource_type ||
    current.criteria !== columns.criteria ||
    current.endpoint !== columns.endpoint ||
    current.payload !== columns.payload ||
    JSON.stringify(current.headers) !== columns.headers;
  const asked = definition.status === 'requested' && current.status !== 'requested';
  await db
    .updateTable('subscription')
    .set(changed || asked ? { ...columns, ...restart } : columns)
    .where('id', '=', id)
    .execute();
}
