/**
 * History as a feed a client catches up from: `GET /fhir/_history` (every type) and `GET /fhir/{type}/_history`, newest
 * first, from `_since`, in pages of `_count` linked by `next`. A page ends at a version and the next one starts below
 * it (keyset paging on last_updated, type, id and version, carried in an opaque `_cursor`), so versions written while
 * a client pages never shift the pages or repeat an entry. The caller's access applies as in every history: a version
 * is listed when the caller may see the resource as it is now and the record that version was in.
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { hiddenVersion, type StatusFields } from '../access/release-visibility';
import { historyCurrentCondition, versionVisibilityCondition, visibilityConditionAnyType } from '../access/visibility';
import { settleAuditLog } from './audit/audit-log';
import { withVisibleEntities } from './audit-entity-view';
import { isSupportedType } from './definitions';
import { badRequest } from './outcomes';
import type { Repository } from './repository';
import { dateRange } from './search/date-range';
import { endedContent, judgesVersions, versionAdmitted } from './version-filter';

/** Page size: 100 unless `_count` says otherwise, at most 1000. */
const DEFAULT_COUNT = 100;
const MAX_COUNT = 1000;
/**
 * Where a SMART query scope leaves out versions (judged one by one after they are read), a page reads batches of at
 * least this many rows, and at most this many batches to fill itself: a page that reaches them ends early, with its
 * next link.
 */
const JUDGED_BATCH = 100;
const MAX_JUDGED_BATCHES = 10;

/** The parameters a history feed takes; anything else is a 400. */
const PARAMETERS = new Set(['_since', '_count', '_cursor', '_format']);

/** Where a version stands in the feed's order (newest first). */
type Position = readonly [lastUpdated: string, type: string, id: string, version: number];

interface HistoryRow {
  readonly resource_type: string;
  readonly id: string;
  readonly version: number;
  readonly last_updated: Date;
  readonly deleted: boolean;
  readonly content: string;
  readonly compartments: string[];
  readonly owners: string[];
  readonly ended_content: string | null;
}

/** One page of the history of `type` (undefined: of every type) for the repository's caller. */
export async function historyFeed(
  repo: Repository,
  type: string | undefined,
  query: Record<string, unknown>,
  url: string,
): Promise<Bundle> {
  if (type !== undefined && !isSupportedType(type)) throw badRequest(`Unsupported resource type: ${type}`);
  const { since, count, after } = feedParameters(query);
  if (type === undefined || type === 'AuditEvent') await settleAuditLog(repo.db);
  const scope = repo.context.scope;
  // A SMART query scope's parameters are judged on each version's own content (version-filter.ts), not in the SQL.
  const current = type ? historyCurrentCondition(scope, type, 'r') : visibilityConditionAnyType(scope, 'r', { versions: true });
  const own = type ? versionVisibilityCondition(scope, type, 'h') : visibilityConditionAnyType(scope, 'h', { versions: true });
  const judged = judgesVersions(scope, type);
  const conditions = [
    ...(type ? [sql`h.resource_type = ${type}`] : []),
    ...(current ? [current] : []),
    ...(own ? [own] : []),
    ...(since ? [sql`h.last_updated >= ${since}`] : []),
  ];
  const below = (position: Position) =>
    sql`(h.last_updated, h.resource_type, h.id, h.version) < (${position[0]}::timestamptz, ${position[1]}, ${position[2]}, ${position[3]})`;
  const positionOf = (row: HistoryRow): Position => [new Date(row.last_updated).toISOString(), row.resource_type, row.id, row.version];
  return repo.asOperation('history', async () => {
    const admitted: HistoryRow[] = [];
    const batchSize = judged ? Math.max(count, JUDGED_BATCH) : count;
    let from = after;
    let batches = 0;
    let full = false;
    // Without a query scope one statement reads the page; with one, batches follow until it is full (see
    // JUDGED_BATCH). `full`: the last batch was whole, or the page filled before it ended: more versions may follow.
    do {
      const where = [...conditions, ...(from ? [below(from)] : [])];
      const { rows: batch } = await sql<HistoryRow>`
        select h.resource_type, h.id, h.version, h.last_updated, h.deleted, h.content, h.compartments, h.owners,
          ${judged ? endedContent('h') : sql`null`} as ended_content
        from resource_history h join resource r on r.resource_type = h.resource_type and r.id = h.id
        ${where.length ? sql`where ${sql.join(where, sql` and `)}` : sql``}
        order by h.last_updated desc, h.resource_type desc, h.id desc, h.version desc
        limit ${batchSize}`.execute(repo.db);
      batches++;
      full = batch.length === batchSize;
      for (const row of batch) {
        if (admitted.length === count) {
          // The page is full before this batch ends: the next page starts after the last row listed.
          full = true;
          break;
        }
        from = positionOf(row);
        if (versionAdmitted(scope, row)) admitted.push(row);
      }
    } while (judged && full && admitted.length < count && batches < MAX_JUDGED_BATCHES);
    const found = admitted;
    // Earlier drafts and versions entered in error stay hidden from portal callers (as in every history).
    const hides = !!scope.releasedOnly && !scope.unrestricted;
    const rows = found.filter((row) => row.deleted || !hides || !hiddenVersion(JSON.parse(row.content) as StatusFields));
    repo.noteServed(rows.map((row) => ({ type: row.resource_type, id: row.id, compartments: row.compartments })));
    const resources = await withVisibleEntities(
      repo.db,
      scope,
      rows.map((row) => (row.deleted ? ({ resourceType: row.resource_type } as Resource) : (JSON.parse(row.content) as Resource))),
    );
    const fhirBase = repo.context.fhirBase;
    const entry: BundleEntry[] = rows.map((row, i) => {
      const path = `${row.resource_type}/${row.id}`;
      const response = {
        status: row.deleted ? '204' : row.version === 1 ? '201' : '200',
        etag: `W/"${row.version}"`,
        lastModified: new Date(row.last_updated).toISOString(),
      };
      if (row.deleted) return { fullUrl: `${fhirBase}/${path}`, request: { method: 'DELETE', url: path }, response };
      return {
        fullUrl: `${fhirBase}/${path}`,
        resource: scope.present(resources[i]),
        request: { method: row.version === 1 ? 'POST' : 'PUT', url: row.version === 1 ? row.resource_type : path },
        response,
      };
    });
    const link = [{ relation: 'self', url: pageUrl(url, query, after) }];
    if (full && from) link.push({ relation: 'next', url: pageUrl(url, query, from) });
    return { resourceType: 'Bundle', type: 'history', link, entry };
  });
}

function feedParameters(query: Record<string, unknown>): { since?: Date; count: number; after?: Position } {
  for (const [key, value] of Object.entries(query)) {
    if (!PARAMETERS.has(key)) throw badRequest(`Unknown parameter "${key}" for a history: it takes _since, _count and _cursor`, key);
    if (typeof value !== 'string') throw badRequest(`${key} may be given once`, key);
  }
  const { _since, _count, _cursor } = query as Record<string, string | undefined>;
  // A _count past the largest page is that page (FHIR lets a server answer with fewer), as for searches.
  if (_count !== undefined && !/^[1-9]\d{0,19}$/.test(_count)) throw badRequest('_count must be a positive integer', '_count');
  const range = _since === undefined ? undefined : dateRange(_since);
  if (_since !== undefined && (!range || !/T/.test(_since)))
    throw badRequest(`_since must be a FHIR instant (2026-01-31T09:00:00Z), got "${_since}"`, '_since');
  return {
    since: range ? new Date(range.low) : undefined,
    count: _count ? Math.min(Number(_count), MAX_COUNT) : DEFAULT_COUNT,
    after: _cursor === undefined ? undefined : cursorPosition(_cursor),
  };
}

function cursorPosition(cursor: string): Position {
  try {
    const position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(position) &&
      position.length === 4 &&
      !Number.isNaN(Date.parse(String(position[0]))) &&
      typeof position[1] === 'string' &&
      typeof position[2] === 'string' &&
      Number.isInteger(position[3])
    ) {
      return position as unknown as Position;
    }
  } catch {
    // not ours: the 400 below
  }
  throw badRequest('_cursor is not one this service gave in a next link', '_cursor');
}

function pageUrl(url: string, query: Record<string, unknown>, after: Position | undefined): string {
  const params = new URLSearchParams();
  for (const key of ['_since', '_count'] as const) if (typeof query[key] === 'string') params.set(key, query[key]);
  if (after) params.set('_cursor', Buffer.from(JSON.stringify(after)).toString('base64url'));
  const text = params.toString();
  return text ? `${url}?${text}` : url;
}
