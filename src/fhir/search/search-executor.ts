import { Filter, IncludeTarget, SearchRequest } from '@medplum/core';
import type { Bundle, BundleLink, Resource } from '@medplum/fhirtypes';
import { Kysely, RawBuilder, type SqlBool, sql } from 'kysely';
import type { AccessScope } from '../../access/access-scope';
import type { TimedCondition } from '../../access/caller';
import { visibilityCondition } from '../../access/visibility';
import type { Tables } from '../../db/tables';
import { isSupportedType, searchParametersOf } from '../definitions';
import { badRequest } from '../outcomes';
import { visibleEntityTexts, withVisibleEntities } from '../audit-entity-view';
import { shapeResource } from '../resource-shape';
import { MAX_SEARCH_OFFSET } from './parse-search';
import { drivingFilter, drivingReference, matchSource, type PageOrder, pageStatement } from './match-source';
import { boundValues, type SlottedFilter } from './search-filters';
import { bindShape, compileShape, type CompiledShape, identityKey, ShapeCache, Slot } from './statement-cache';
import { recordServed, type ServedRecord } from '../audit/served-record';
import { preparedShape } from '../../db/prepared-statement';

type Sql = RawBuilder<unknown>;

/** Paging limits: FHIR leaves them to the server. */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 1000;

/** Where the links of a search bundle point. */
export interface SearchLinks {
  /** e.g. http://localhost:8080/fhir/Observation */
  readonly url: string;
  /** The original query parameters, used to build self/next/previous links. */
  readonly params: URLSearchParams;
}

/** A resource a search served, with the patients whose compartment holds it (for the audit trail). */
export interface ServedRow {
  readonly type: string;
  readonly id: string;
  readonly compartments: readonly string[];
}

/** One entry of a search page: the resource as JSON text, ready to be sent. */
export interface PageEntry {
  readonly fullUrl: string;
  readonly mode: 'match' | 'include';
  readonly json: string;
}

/** One page of a search, its entries already as the caller may see them. */
export interface SearchPage {
  /** The number of matches, when asked for (`_total`) or known without counting (the page reaches the end). */
  readonly total?: number;
  readonly links: BundleLink[];
  readonly entries: PageEntry[];
}

/**
 * A caller taken on trust (Caller.unconfirmed): the page's own statement checks `condition` and serves nothing unless
 * it holds; `confirmed` hears whether it did before anything else runs (and throws when it did not).
 */
export interface CallerConfirmation {
  readonly condition: RawBuilder<SqlBool>;
  /** The same condition with the time as its one value per search, when it has that form: the page is then compiled once. */
  readonly timed?: TimedCondition;
  confirmed(ok: boolean): void;
}

/** The searchset Bundle of a page as JSON text: the stored JSON of each entry is put in as it is, not re-serialised. */
export function bundleText(page: SearchPage): string {
  let text = `{"resourceType":"Bundle","type":"searchset"${page.total === undefined ? '' : `,"total":${page.total}`},"link":${JSON.stringify(page.links)}`;
  if (!page.entries.length) return `${text}}`;
  text += ',"entry":[';
  page.entries.forEach((e, i) => {
    text += `${i ? ',' : ''}{"fullUrl":${JSON.stringify(e.fullUrl)},"resource":${e.json},"search":{"mode":"${e.mode}"}}`;
  });
  return `${text}]}`;
}

/** The searchset Bundle of a page as an object, each entry's stored JSON parsed once (no text of the whole Bundle). */
export function bundleObject(page: SearchPage): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(page.total === undefined ? {} : { total: page.total }),
    link: page.links,
    ...(page.entries.length
      ? { entry: page.entries.map((e) => ({ fullUrl: e.fullUrl, resource: JSON.parse(e.json) as Resource, search: { mode: e.mode } })) }
      : {}),
  };
}

/**
 * Runs a FHIR search for one caller and returns the searchset Bundle (with includes and links). `onServed`
 * hears of every resource put in the bundle (matches and includes).
 */
export async function executeSearch(
  db: Kysely<Tables>,
  callerScope: AccessScope,
  request: SearchRequest,
  links: SearchLinks,
  fhirBase: string,
  onServed?: (rows: ServedRow[]) => void,
): Promise<Bundle> {
  return bundleObject(await searchPage(db, callerScope, request, links, fhirBase, { onServed }));
}

/** What a search hears of and checks besides the request itself (searchPage). */
export interface PageOptions {
  /** Hears of every resource put in the page (matches and includes) that `record` did not record. */
  readonly onServed?: (rows: ServedRow[]) => void;
  /** The condition of a caller taken on trust, checked in the page's own statement. */
  readonly confirmation?: CallerConfirmation;
  /** The page's own statement records what it serves in the audit log (served-record.ts). */
  readonly record?: ServedRecord;
  /**
   * Turns the access records waiting in the audit log into AuditEvents (audit-log.ts settleAuditLog), for a search
   * that serves AuditEvents. The page's own statement asks whether any wait, and reads the page only if none do; else
   * they are settled and the page read again. In one snapshot a record is either waiting or an AuditEvent (a pass
   * moves it in one transaction), so a page read with none waiting holds every access committed before it.
   */
  readonly settleAudit?: (pending: boolean) => Promise<void>;
}

/**
 * Runs a FHIR search for one caller and returns one page: one statement for the page's matches, in order, with their
 * stored JSON (and one per include, a count only when the total is asked for and not known from the page). The stored
 * JSON is served as it is wherever the caller may see it whole; only reduced views, AuditEvents' entities and
 * `_elements`/`_summary` are parsed and shaped.
 */
export async function searchPage(
  db: Kysely<Tables>,
  callerScope: AccessScope,
  request: SearchRequest,
  links: SearchLinks,
  fhirBase: string,
  options: PageOptions = {},
): Promise<SearchPage> {
  const { onServed, confirmation, record, settleAudit } = options;
  const type = request.resourceType;
  if (!isSupportedType(type)) throw badRequest(`Unsupported resource type: ${type}`);
  // A reduced view must not be probed through the parameters it hides (filters, sort keys, include paths).
  const scope = callerScope.narrowForSearch?.(type, parametersUsed(request)) ?? callerScope;
  const count = Math.min(request.count ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const offset = request.offset ?? 0;
  if (count < 0 || offset < 0) throw badRequest('_count and _offset must not be negative');
  if (offset > MAX_SEARCH_OFFSET) throw badRequest(`_offset may be at most ${MAX_SEARCH_OFFSET}`, '_offset');
  const wantsTotal = request.total === 'accurate' || request.total === 'estimate';

  if (wantsTotal && count === 0) {
    if (confirmation) await confirmCaller(db, confirmation);
    await settleAudit?.(false);
    const total = await countMatches(db, scope, request);
    return { total, links: [{ relation: 'self', url: selfUrl(links) }], entries: [] };
  }

  // Prepared per shape: planning took PostgreSQL 0.3 to 1.6 ms per search. Its generic plan holds when statistics are
  // stale (test/stale-statistics.test.ts): each path is fixed by the statement's form (match-source.ts), not by them.
  const plan = planPage(callerScope, scope, request, count, offset, { record, confirmation });
  let read = await readPage(db, plan, { record, confirmation, auditCheck: !!settleAudit });
  if (!read.settled) {
    // Access records were waiting: settled now, and the page read again (the caller, if on trust, is confirmed).
    await settleAudit!(true);
    read = await readPage(db, plan, { record, confirmation, auditCheck: false });
  }
  const { rows: fetched, includes } = read;
  const matched = fetched.filter((row) => row.mode !== 'include');
  const more = matched.length > count;
  const rows = more ? matched.slice(0, count) : matched;
  // The total when it is known from the page itself (it reaches the end of the matches), else counted if asked for.
  const known = !more && (rows.length > 0 || offset === 0) ? offset + rows.length : undefined;
  const total = request.total === 'none' ? undefined : (known ?? (wantsTotal ? await countMatches(db, scope, request) : undefined));
  const found: Found[] = rows.map((row) => ({
    id: row.id,
    content: row.content,
    compartments: row.compartments,
    type,
    mode: 'match',
    recorded: !!record,
  }));

  if (rows.length && (includes.folded || includes.byType.length)) {
    const included: Included[] = fetched
      .filter((row) => row.mode === 'include')
      .map((row) => ({ type: row.type as string, id: row.id, content: row.content, compartments: row.compartments, recorded: !!record }));
    if (includes.byType.length)
      included.push(
        ...(await loadIncludesByType(
          db,
          scope,
          type,
          rows.map((r) => r.id),
          includes.byType,
        )),
      );
    const seen = new Set(rows.map((r) => `${type}/${r.id}`));
    for (const row of included) {
      const key = `${row.type}/${row.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      found.push({ ...row, mode: 'include' });
    }
  }
  const entries = await presentEntries(db, callerScope, scope, found, request, fhirBase);
  const unrecorded = record ? found.filter((f) => f.mode === 'include' && !f.recorded) : found;
  if (unrecorded.length || !record) onServed?.(unrecorded.map((f) => ({ type: f.type, id: f.id, compartments: f.compartments })));
  return { total, links: pageLinks(links, offset, count, more), entries };
}

/** What a page's statement checks before it reads the page, besides the request (readPage). */
interface PageChecks {
  readonly record?: ServedRecord;
  readonly confirmation?: CallerConfirmation;
  /** Whether the page is read only if no access record waits in the audit log (PageOptions.settleAudit). */
  readonly auditCheck: boolean;
}

/**
 * A page's statement as a shape and its values (statement-cache.ts): `key` names everything its text is built from but
 * the values (undefined when something in it has no key: then it is built for this search alone), and `build` builds
 * it with a Slot for each value.
 */
interface PagePlan {
  readonly key?: string;
  readonly values: ReadonlyMap<string, unknown>;
  build(checks: PageChecks): { statement: RawBuilder<unknown>; includes: PageIncludes };
}

/** The includes of a page: whether some are read in the page's own statement, and those read after it (planIncludes). */
interface PageIncludes {
  readonly folded: boolean;
  readonly byType: readonly IncludeTarget[];
}

/** A compiled page statement, and what the search needs to know of it besides. */
interface CompiledPage {
  readonly compiled: CompiledShape;
  readonly includes: PageIncludes;
  /** Whether its rows carry its gate's row (gatedPage, recordedPage with a gate). */
  readonly gated: boolean;
}

/** Compiled page statements of the searches that come again and again, by their keys. */
const pageShapes = new ShapeCache<CompiledPage>();

/** Separates the key parts of a page's statement (never found in JSON text, nor in ids or parameter names). */
const KEY_SEPARATOR = '\u0001';

/**
 * The shape and values of a page's statement. One row past the page says whether there is a next page, without
 * counting the matches. The values: the id of the record searched (the driving reference: match-source.ts), each string
 * and date filter's (search-filters.ts boundValues), the offset, the time a caller taken on trust is confirmed at
 * (TimedCondition) and the time its access is recorded at; all else is in the key.
 */
function planPage(
  callerScope: AccessScope,
  scope: AccessScope,
  request: SearchRequest,
  count: number,
  offset: number,
  checks: Omit<PageChecks, 'auditCheck'>,
): PagePlan {
  const type = request.resourceType;
  const values = new Map<string, unknown>([['offset', offset]]);
  // An unrestricted scope's statements are built from nothing of its own but its not narrowing a search.
  const scopeKey =
    callerScope.unrestricted && !callerScope.narrowForSearch && !callerScope.resourceFilters ? 'unrestricted' : identityKey(callerScope);
  const parts: (string | undefined)[] = [
    scopeKey,
    type,
    String(count),
    JSON.stringify(request.sortRules ?? []),
    JSON.stringify(request.include ?? []),
    JSON.stringify(request.revInclude ?? []),
    checks.confirmation ? checks.confirmation.timed?.key : '',
    checks.record ? `${checks.record.interaction} ${JSON.stringify(checks.record.agent)}` : '',
  ];
  if (checks.confirmation?.timed) values.set('now', checks.confirmation.timed.now);
  if (checks.record) values.set('recorded', checks.record.recorded.toISOString());
  const at = drivingFilter(request);
  const filters = (request.filters ?? []).map((filter, i): Filter => {
    if (i === at) {
      const driver = drivingReference(type, filter)!;
      values.set('driver', driver.targetId);
      parts.push(`D ${filter.code} ${driver.targetType ?? ''}`);
      return { ...filter, slots: [new Slot('driver')] } as SlottedFilter;
    }
    const bound = boundValues(type, filter);
    if (!bound) {
      parts.push(`R ${JSON.stringify(filter)}`);
      return filter;
    }
    bound.forEach((value, k) => values.set(`f${i}.${k}`, value));
    parts.push(`S ${filter.code} ${filter.operator} ${bound.length}`);
    return { ...filter, slots: bound.map((_, k) => new Slot(`f${i}.${k}`)) } as SlottedFilter;
  });
  const slotted: SearchRequest = { ...request, filters };
  return {
    key: parts.includes(undefined) ? undefined : parts.join(KEY_SEPARATOR),
    values,
    build: (pageChecks) => {
      const page = pageStatement(scope, slotted, orderBy(type, request), count + 1, new Slot('offset'));
      // The includes whose types are known go in the same statement (checked here, whether or not anything matches).
      const includes = planIncludes(callerScope, scope, type, request.include ?? [], request.revInclude ?? [], count);
      const folded = includes.folded.length > 0;
      const statement = folded ? withIncludes(type, page, includes.folded) : page;
      return { statement: checkedPage(statement, { type, count, folded }, pageChecks), includes: { folded, byType: includes.byType } };
    },
  };
}

/** Reads a page with its checks in its own statement; `settled` false when access records waited in the audit log. */
async function readPage(
  db: Kysely<Tables>,
  plan: PagePlan,
  checks: PageChecks,
): Promise<{ rows: PageRow[]; settled: boolean; includes: PageIncludes }> {
  const key = plan.key === undefined ? undefined : `${plan.key}${KEY_SEPARATOR}${checks.auditCheck}`;
  let page = key === undefined ? undefined : pageShapes.get(key);
  if (!page) {
    const built = plan.build(checks);
    page = { compiled: compileShape(db, built.statement), includes: built.includes, gated: !!(checks.confirmation || checks.auditCheck) };
    if (key !== undefined) pageShapes.offer(key, page);
  }
  const { rows } = await db.executeQuery(bindShape<PageRow & GateRow>(page.compiled, plan.values));
  if (!page.gated) return { rows, settled: true, includes: page.includes };
  checks.confirmation?.confirmed(rows[0]?.caller_ok === true);
  return {
    rows: rows.filter((row): row is PageRow & GateRow & { id: string } => row.id !== null),
    settled: rows[0]?.settled === true,
    includes: page.includes,
  };
}

/**
 * A page's statement with its checks: as it is, or with a gate (the condition of a caller taken on trust, the audit
 * log's being settled: gatedPage), recording what it serves (recordedPage), or both.
 */
function checkedPage(statement: Sql, shape: PageShape, checks: PageChecks): Sql {
  const gate = checks.confirmation || checks.auditCheck ? pageGate(checks) : undefined;
  if (checks.record) return recordedPage(statement, shape, checks.record, gate);
  return gate ? gatedPage(statement, gate) : preparedShape(statement);
}

/**
 * The conditions a page's statement checks in a row of their own before it reads the page: the caller taken on trust
 * (`ok`), and that no access record waits to become an AuditEvent (`settled`).
 */
interface PageGate {
  readonly columns: Sql;
}

function pageGate(checks: PageChecks): PageGate {
  const { confirmation } = checks;
  const ok = confirmation ? (confirmation.timed?.at(new Slot('now')) ?? confirmation.condition) : sql`true`;
  // By the primary key, as the audit pass looks for rows: the log fills and empties, and its statistics lag.
  const settled = checks.auditCheck ? sql`not exists (select 1 from audit_log where seq > 0)` : sql`true`;
  return { columns: sql`${ok} as ok, ${settled} as settled` };
}

/** The gate's row, on every row of a gated page (the page's own columns null when it read nothing). */
interface GateRow {
  readonly caller_ok: boolean;
  readonly settled: boolean;
  readonly id: string | null;
}

/**
 * A page's statement with its gate in it (the condition of a caller taken on trust, the audit log's being settled):
 * one row says whether they hold (and the page is read only if so), the page's rows in their order after it. A nested
 * loop over the single row of the gate keeps the page's own order. The gate as a CTE of its own: planned apart from
 * the page, the statement took PostgreSQL about 1.1 ms to plan, against 1.9 ms with the condition in the join (best
 * of 15, Ada's inbox on the bench database).
 */
function gatedPage(statement: Sql, gate: PageGate): Sql {
  return preparedShape(sql`
    with c as materialized (select ${gate.columns})
    select c.ok as caller_ok, c.settled, p.* from c left join lateral (select * from (${statement}) q where c.ok and c.settled) p on true`);
}

/** What recordedPage needs to know of a page's statement: its type, its page size, and whether includes are folded in. */
interface PageShape {
  readonly type: string;
  readonly count: number;
  /** The statement is withIncludes's (rows with mode and type), not the bare page's. */
  readonly folded: boolean;
}

/**
 * A page's statement that records what it serves itself (served-record.ts): the page's matches (not the row past it
 * that says whether there is a next page) and its includes, in one statement that commits with the rows. A gate is
 * checked in the same statement (as gatedPage does): its page is read, and recorded, only if it holds.
 */
function recordedPage(statement: Sql, shape: PageShape, record: ServedRecord, gate?: PageGate): Sql {
  const served = shape.folded
    ? sql`(select type, id, compartments from page_rows where mode = 'include' or k <= ${shape.count})`
    : sql`(select ${shape.type}::text as type, id, compartments from page_rows where k <= ${shape.count})`;
  const numbered = sql`select row_number() over () as k, q.* from (${statement}) q`;
  const recorded = recordServed(served, record, new Slot('recorded'));
  if (!gate)
    return preparedShape(sql`with page_rows as materialized (${numbered}), page_record as (${recorded})
      select * from page_rows order by k`);
  return preparedShape(sql`
    with c as materialized (select ${gate.columns}),
      page_rows as materialized (${numbered} where (select c.ok and c.settled from c)),
      page_record as (${recorded})
    select c.ok as caller_ok, c.settled, p.* from c left join page_rows p on true order by p.k`);
}

/** Confirms a caller taken on trust in a statement of its own (a search that reads no page). */
async function confirmCaller(db: Kysely<Tables>, confirmation: CallerConfirmation): Promise<void> {
  const { rows } = await sql<{ ok: boolean }>`select ${confirmation.condition} as ok`.execute(db);
  confirmation.confirmed(rows[0]?.ok === true);
}

/** A row of a page's statement: a match, or (with includes folded in: withIncludes) an included resource. */
interface PageRow {
  readonly mode?: 'match' | 'include';
  readonly type?: string;
  readonly id: string;
  readonly content: string;
  readonly compartments: string[];
}

/** A row a page serves: a match or an included resource, its stored JSON and the compartments it is in. */
interface Found {
  readonly type: string;
  readonly id: string;
  readonly content: string;
  readonly compartments: string[];
  readonly mode: 'match' | 'include';
  /** Recorded in the audit log by the page's own statement (PageOptions.record). */
  readonly recorded?: boolean;
}

/**
 * The entries as the caller may see them. Stored JSON goes out as it is when the caller sees such resources whole
 * (no reduced view, no `_elements` or `_summary`, no AuditEvent whose entities must be checked); the rest is parsed,
 * cut to what the caller may see and serialised again.
 */
async function presentEntries(
  db: Kysely<Tables>,
  callerScope: AccessScope,
  scope: AccessScope,
  found: readonly Found[],
  request: SearchRequest,
  fhirBase: string,
): Promise<PageEntry[]> {
  const shaped = !!request.fields?.length || request.summary !== undefined;
  const presentedWhole = (f: Found): boolean =>
    !!scope.presentsWhole || !!scope.presentsWholeType?.(f.type) || !!scope.presentsWholeResource?.(f.type, f.id);
  const whole = (f: Found): boolean =>
    !shaped && (scope.unrestricted || (presentedWhole(f) && (callerScope.unrestricted || f.type !== 'AuditEvent')));
  // AuditEvents shown whole but for the entities the caller may not see: from their text, parsed only where one is hidden.
  const events = found.filter((f) => !shaped && !whole(f) && f.type === 'AuditEvent' && presentedWhole(f));
  const eventTexts = new Map<Found, string>();
  if (events.length) {
    const texts = await visibleEntityTexts(
      db,
      callerScope,
      events.map((f) => f.content),
    );
    events.forEach((f, i) => eventTexts.set(f, texts[i]));
  }
  const parsed = found.filter((f) => !whole(f) && !eventTexts.has(f));
  const shown = new Map<Found, Resource>();
  if (parsed.length) {
    const visible = await withVisibleEntities(
      db,
      callerScope,
      parsed.map((f) => JSON.parse(f.content) as Resource),
    );
    parsed.forEach((f, i) => shown.set(f, visible[i]));
  }
  return found.map((f) => {
    const resource = shown.get(f);
    const json = resource
      ? JSON.stringify(shapeResource(scope.present(resource), { elements: request.fields, summary: request.summary }))
      : (eventTexts.get(f) ?? f.content);
    return { fullUrl: `${fhirBase}/${f.type}/${f.id}`, mode: f.mode, json };
  });
}

/**
 * A search's page statement as searchPage runs it (PageOptions' record and confirmation, no audit check), with the key it
 * is kept under: the statement built for this search, and the function that binds another search's values to it (for
 * tests: a statement kept for one search must be the statement of every other search with its key).
 */
export function pageStatementShape(
  db: Kysely<Tables>,
  callerScope: AccessScope,
  request: SearchRequest,
  options: Pick<PageOptions, 'record' | 'confirmation'> = {},
): { key?: string; compiled: CompiledShape; values: ReadonlyMap<string, unknown> } & Pick<PagePlan, 'build'> {
  const scope = callerScope.narrowForSearch?.(request.resourceType, parametersUsed(request)) ?? callerScope;
  const count = Math.min(request.count ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const plan = planPage(callerScope, scope, request, count, request.offset ?? 0, options);
  return { ...plan, compiled: compileShape(db, plan.build({ ...options, auditCheck: false }).statement) };
}

/** The statement of a search's first page for this caller, as searchPage runs it (for EXPLAIN in benchmarks and tests). */
export function firstPageStatement(scope: AccessScope, request: SearchRequest): RawBuilder<unknown> {
  const count = Math.min(request.count ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  return pageStatement(scope, request, orderBy(request.resourceType, request), count + 1, 0);
}

/** The search parameters a request filters, sorts or includes by (what a reduced view must allow). */
function parametersUsed(request: SearchRequest): string[] {
  return [
    ...(request.filters ?? []).map((f) => f.code),
    ...(request.sortRules ?? []).map((r) => r.code),
    ...(request.include ?? []).map((i) => i.searchParam),
  ];
}

async function countMatches(db: Kysely<Tables>, scope: AccessScope, request: SearchRequest): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from ${matchSource(scope, request)}`.execute(db);
  return Number(rows[0].n);
}

function orderBy(type: string, request: SearchRequest): PageOrder[] {
  const order: PageOrder[] = [];
  for (const rule of request.sortRules ?? []) {
    const descending = !!rule.descending;
    if (rule.code === '_id') order.push({ key: sql`r.id`, descending, nullsLast: false, isId: true });
    else if (rule.code === '_lastUpdated') order.push({ key: sql`r.last_updated`, descending, nullsLast: false, fromRow: true });
    else order.push({ key: sortKey(type, rule.code, descending), descending, nullsLast: true });
  }
  order.push(
    { key: sql`r.last_updated`, descending: true, nullsLast: false, fromRow: true },
    { key: sql`r.id`, descending: false, nullsLast: false, isId: true },
  );
  return order;
}

function sortKey(type: string, code: string, descending: boolean): RawBuilder<unknown> {
  const param = searchParametersOf(type)[code];
  if (!param) throw badRequest(`Unknown sort parameter "${code}" for ${type}`, '_sort');
  const agg = descending ? sql`max` : sql`min`;
  // Per row, by the row's id: resource_type as an expression keeps the (resource_type, code, value) index out of it
  // (search-filters.ts rowKey).
  const key = sql`i.resource_id = r.id and (i.resource_type || '') = r.resource_type and i.code = ${code}`;
  switch (param.type) {
    case 'date':
      return sql`(select ${agg}(${descending ? sql`i.high` : sql`i.low`}) from search_date i where ${key})`;
    case 'string':
      return sql`(select ${agg}(i.value) from search_string i where ${key})`;
    case 'token':
    case 'uri':
      return sql`(select ${agg}(i.value) from search_token i where ${key})`;
    case 'quantity':
    case 'number':
      return sql`(select ${agg}(i.value) from search_quantity i where ${key})`;
    case 'reference':
      return sql`(select ${agg}(i.target_id) from search_reference i where ${key})`;
    default:
      throw badRequest(`Cannot sort by "${code}"`, '_sort');
  }
}

/** An included resource: its type, id, stored JSON and compartments. */
type Included = Omit<Found, 'mode'>;

/**
 * How a page's includes are read: `folded`, one branch per type that can be included (withIncludes), each reading
 * from the page's own rows; `byType`, the `_include`s through a parameter that declares no target types, read after
 * the page by the types its index rows name (loadIncludesByType). Throws 400 for an include the type does not have.
 */
function planIncludes(
  callerScope: AccessScope,
  scope: AccessScope,
  type: string,
  include: readonly IncludeTarget[],
  revInclude: readonly IncludeTarget[],
  count: number,
): { folded: Sql[]; byType: IncludeTarget[] } {
  const folded: Sql[] = [];
  const byType: IncludeTarget[] = [];
  // Only the page's rows, not the one past it that says whether there is a next page.
  const matches = sql`(select id from page where n <= ${count}) m`;
  for (const target of include) {
    if (target.resourceType !== type) throw badRequest(`_include must start with ${type}: ${target.resourceType}`, '_include');
    const param = searchParametersOf(type)[target.searchParam];
    if (!param || param.type !== 'reference')
      throw badRequest(`_include: "${target.searchParam}" is not a reference parameter of ${type}`, '_include');
    const declared = target.targetType ? [target.targetType] : param.target;
    if (!declared?.length) {
      byType.push(target);
      continue;
    }
    for (const targetType of new Set(declared.filter((t) => isSupportedType(t)))) {
      const visible = visibilityCondition(scope, targetType);
      // Per match, its own index rows; then each target by primary key (lookups, whatever the statistics say).
      folded.push(sql`select 'include', ${targetType}::text, null::bigint, r.id, r.content, r.compartments
        from (select distinct l.target_id from ${matches} cross join lateral (select i.target_id from search_reference i
            where i.resource_id = m.id and i.resource_type = ${type} and i.code = ${target.searchParam} and i.target_type = ${targetType} offset 0) l) t
        cross join lateral (select r.id, r.content, r.compartments from resource r where r.resource_type = ${targetType} and r.id = t.target_id
          and r.deleted = false ${visible ? sql`and (${visible}) is true` : sql``} offset 0) r`);
    }
  }
  for (const target of revInclude) {
    if (!isSupportedType(target.resourceType)) throw badRequest(`_revinclude: unsupported type ${target.resourceType}`, '_revinclude');
    const param = searchParametersOf(target.resourceType)[target.searchParam];
    if (!param || param.type !== 'reference') {
      throw badRequest(`_revinclude: "${target.searchParam}" is not a reference parameter of ${target.resourceType}`, '_revinclude');
    }
    // The reverse path is a parameter of the included type: narrow for that type, from the caller's own scope.
    const revScope = callerScope.narrowForSearch?.(target.resourceType, [target.searchParam]) ?? callerScope;
    const visible = visibilityCondition(revScope, target.resourceType);
    // From the reference index, per match, to each referring row by primary key (see match-source.ts).
    folded.push(sql`select 'include', ${target.resourceType}::text, null::bigint, r.id, r.content, r.compartments
      from (select distinct l.resource_id from ${matches} cross join lateral (select i.resource_id from search_reference i
          where i.target_id = m.id and i.code = ${target.searchParam} and i.resource_type = ${target.resourceType} and i.target_type = ${type} offset 0) l) d
      cross join lateral (select r.id, r.content, r.compartments from resource r where r.resource_type = ${target.resourceType} and r.id = d.resource_id
        and r.deleted = false ${visible ? sql`and (${visible}) is true` : sql``} offset 0) r
      limit ${MAX_PAGE_SIZE * 10}`);
  }
  return { folded, byType };
}

/**
 * One statement for a page and its includes: the page's rows numbered in their order (`n`), then each include
 * branch's rows, which read the page's ids from the same rows.
 */
function withIncludes(type: string, page: Sql, branches: readonly Sql[]): Sql {
  return sql`with page as materialized (select row_number() over () as n, q.id, q.content, q.compartments from (${page}) q)
    select 'match' as mode, ${type}::text as type, p.n, p.id, p.content, p.compartments from page p
    ${sql.join(
      branches.map((branch) => sql`union all (${branch})`),
      sql` `,
    )}
    order by n`;
}

/** The `_include`s through parameters without declared target types: by the types the matches' index rows name. */
async function loadIncludesByType(
  db: Kysely<Tables>,
  scope: AccessScope,
  type: string,
  ids: string[],
  include: readonly IncludeTarget[],
): Promise<Included[]> {
  const out: Included[] = [];
  for (const target of include) {
    // Per match, its own index rows (a lookup each, whatever the statistics say; see match-source.ts).
    const { rows } = await sql<{ target_type: string; target_id: string }>`
      select distinct l.target_type, l.target_id from unnest(${ids}::text[]) as m(id)
      cross join lateral (select i.target_type, i.target_id from search_reference i
        where i.resource_id = m.id and i.resource_type = ${type} and i.code = ${target.searchParam}
          and i.target_type is not null offset 0) l`.execute(db);
    const byType = new Map<string, string[]>();
    for (const row of rows) byType.set(row.target_type, [...(byType.get(row.target_type) ?? []), row.target_id]);
    for (const [targetType, targetIds] of byType) {
      if (!isSupportedType(targetType)) continue;
      const visible = visibilityCondition(scope, targetType);
      const { rows: found } = await sql<Included>`
        select r.resource_type as type, r.id, r.content, r.compartments from resource r where r.resource_type = ${targetType} and r.deleted = false
          and r.id = any(${targetIds}::text[]) ${visible ? sql`and ${visible}` : sql``}`.execute(db);
      out.push(...found);
    }
  }
  return out;
}

function selfUrl(links: SearchLinks, overrides: Record<string, string> = {}): string {
  const params = new URLSearchParams(links.params);
  for (const [k, v] of Object.entries(overrides)) params.set(k, v);
  const query = params.toString();
  return query ? `${links.url}?${query}` : links.url;
}

function pageLinks(links: SearchLinks, offset: number, count: number, more: boolean): BundleLink[] {
  const out: BundleLink[] = [{ relation: 'self', url: selfUrl(links) }];
  const page = { _count: String(count) };
  // No next page past the deepest offset served (MAX_SEARCH_OFFSET): a link that only answers 400 is no link.
  if (more && offset + count <= MAX_SEARCH_OFFSET)
    out.push({ relation: 'next', url: selfUrl(links, { ...page, _offset: String(offset + count) }) });
  if (offset > 0) out.push({ relation: 'previous', url: selfUrl(links, { ...page, _offset: String(Math.max(0, offset - count)) }) });
  return out;
}
