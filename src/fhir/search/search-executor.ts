import { IncludeTarget, SearchRequest } from '@medplum/core';
import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import { Kysely, RawBuilder, sql } from 'kysely';
import type { AccessScope } from '../../access/access-scope';
import { visibilityCondition } from '../../access/visibility';
import type { Tables } from '../../db/tables';
import { isSupportedType, searchParametersOf } from '../definitions';
import { badRequest } from '../outcomes';
import { withVisibleEntities } from '../audit-entity-view';
import { shapeResource } from '../resource-shape';
import { MAX_SEARCH_OFFSET } from './parse-search';
import { matchSource } from './match-source';

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
  const type = request.resourceType;
  if (!isSupportedType(type)) throw badRequest(`Unsupported resource type: ${type}`);
  // A reduced view must not be probed through the parameters it hides (filters, sort keys, include paths).
  const scope = callerScope.narrowForSearch?.(type, parametersUsed(request)) ?? callerScope;
  const source = matchSource(scope, request);
  const count = Math.min(request.count ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const offset = request.offset ?? 0;
  if (count < 0 || offset < 0) throw badRequest('_count and _offset must not be negative');
  if (offset > MAX_SEARCH_OFFSET) throw badRequest(`_offset may be at most ${MAX_SEARCH_OFFSET}`, '_offset');

  if (request.total === 'accurate' && count === 0) {
    const total = await countMatches(db, source);
    return { resourceType: 'Bundle', type: 'searchset', total, link: [{ relation: 'self', url: selfUrl(links) }] };
  }

  const order = orderBy(type, request);
  const { rows } = await sql<{ content: string; compartments: string[]; total: string }>`
    select r.content, r.compartments, count(*) over () as total from ${source}
    order by ${sql.join(order, sql`, `)}
    limit ${count} offset ${offset}`.execute(db);
  const total = rows.length ? Number(rows[0].total) : offset > 0 ? await countMatches(db, source) : 0;
  const matches = rows.map((row) => JSON.parse(row.content) as Resource);
  const found: { resource: Resource; mode: 'match' | 'include' }[] = matches.map((resource) => ({ resource, mode: 'match' }));
  const served: ServedRow[] = rows.map((row, i) => ({ type, id: matches[i].id as string, compartments: row.compartments }));

  if (matches.length && (request.include?.length || request.revInclude?.length)) {
    const included = await loadIncludes(db, callerScope, scope, type, matches, request.include ?? [], request.revInclude ?? []);
    const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
    for (const { resource, compartments } of included) {
      const key = `${resource.resourceType}/${resource.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      found.push({ resource, mode: 'include' });
      served.push({ type: resource.resourceType, id: resource.id as string, compartments });
    }
  }
  // An AuditEvent names only what the caller may see (audit-entity-view.ts).
  const shown = await withVisibleEntities(
    db,
    callerScope,
    found.map((f) => f.resource),
  );
  const entries: BundleEntry[] = found.map((f, i) => entry(fhirBase, scope, shown[i], f.mode, request));
  onServed?.(served);
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total,
    link: pageLinks(links, offset, count, total),
    entry: entries,
  };
}

function entry(base: string, scope: AccessScope, resource: Resource, mode: 'match' | 'include', request: SearchRequest): BundleEntry {
  const shaped = shapeResource(scope.present(resource), { elements: request.fields, summary: request.summary });
  return { fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource: shaped, search: { mode } };
}

/** The search parameters a request filters, sorts or includes by (what a reduced view must allow). */
function parametersUsed(request: SearchRequest): string[] {
  return [
    ...(request.filters ?? []).map((f) => f.code),
    ...(request.sortRules ?? []).map((r) => r.code),
    ...(request.include ?? []).map((i) => i.searchParam),
  ];
}

async function countMatches(db: Kysely<Tables>, source: RawBuilder<unknown>): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from ${source}`.execute(db);
  return Number(rows[0].n);
}

function orderBy(type: string, request: SearchRequest): RawBuilder<unknown>[] {
  const order: RawBuilder<unknown>[] = [];
  for (const rule of request.sortRules ?? []) {
    const dir = rule.descending ? sql`desc` : sql`asc`;
    if (rule.code === '_id') order.push(sql`r.id ${dir}`);
    else if (rule.code === '_lastUpdated') order.push(sql`r.last_updated ${dir}`);
    else order.push(sql`${sortKey(type, rule.code, !!rule.descending)} ${dir} nulls last`);
  }
  order.push(sql`r.last_updated desc`, sql`r.id`);
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

type Included = { resource: Resource; compartments: string[] };

async function loadIncludes(
  db: Kysely<Tables>,
  callerScope: AccessScope,
  scope: AccessScope,
  type: string,
  matches: Resource[],
  include: IncludeTarget[],
  revInclude: IncludeTarget[],
): Promise<Included[]> {
  const ids = matches.map((r) => r.id as string);
  const out: Included[] = [];
  const parse = (rows: { content: string; compartments: string[] }[]): Included[] =>
    rows.map((f) => ({ resource: JSON.parse(f.content) as Resource, compartments: f.compartments }));
  for (const target of include) {
    if (target.resourceType !== type) throw badRequest(`_include must start with ${type}: ${target.resourceType}`, '_include');
    const param = searchParametersOf(type)[target.searchParam];
    if (!param || param.type !== 'reference')
      throw badRequest(`_include: "${target.searchParam}" is not a reference parameter of ${type}`, '_include');
    // Per match, its own index rows (a lookup each, whatever the statistics say; see match-source.ts).
    const { rows } = await sql<{ target_type: string; target_id: string }>`
      select distinct l.target_type, l.target_id from unnest(${ids}::text[]) as m(id)
      cross join lateral (select i.target_type, i.target_id from search_reference i
        where i.resource_id = m.id and i.resource_type = ${type} and i.code = ${target.searchParam}
          and i.target_type is not null ${target.targetType ? sql`and i.target_type = ${target.targetType}` : sql``} offset 0) l`.execute(
      db,
    );
    const byType = new Map<string, string[]>();
    for (const row of rows) byType.set(row.target_type, [...(byType.get(row.target_type) ?? []), row.target_id]);
    for (const [targetType, targetIds] of byType) {
      if (!isSupportedType(targetType)) continue;
      const visible = visibilityCondition(scope, targetType);
      const { rows: found } = await sql<{ content: string; compartments: string[] }>`
        select r.content, r.compartments from resource r where r.resource_type = ${targetType} and r.deleted = false
          and r.id = any(${targetIds}::text[]) ${visible ? sql`and ${visible}` : sql``}`.execute(db);
      out.push(...parse(found));
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
    const { rows: found } = await sql<{ content: string; compartments: string[] }>`
      select r.content, r.compartments from (select distinct l.resource_id from unnest(${ids}::text[]) as m(id)
        cross join lateral (select i.resource_id from search_reference i where i.target_id = m.id and i.code = ${target.searchParam}
          and i.resource_type = ${target.resourceType} and i.target_type = ${type} offset 0) l) d
      cross join lateral (select * from resource r where r.resource_type = ${target.resourceType} and r.id = d.resource_id
        and r.deleted = false ${visible ? sql`and (${visible}) is true` : sql``} offset 0) r
      limit ${MAX_PAGE_SIZE * 10}`.execute(db);
    out.push(...parse(found));
  }
  return out;
}

function selfUrl(links: SearchLinks, overrides: Record<string, string> = {}): string {
  const params = new URLSearchParams(links.params);
  for (const [k, v] of Object.entries(overrides)) params.set(k, v);
  const query = params.toString();
  return query ? `${links.url}?${query}` : links.url;
}

function pageLinks(links: SearchLinks, offset: number, count: number, total: number): BundleLink[] {
  const out: BundleLink[] = [{ relation: 'self', url: selfUrl(links) }];
  const page = { _count: String(count) };
  // No next page past the deepest offset served (MAX_SEARCH_OFFSET): a link that only answers 400 is no link.
  if (offset + count < total && offset + count <= MAX_SEARCH_OFFSET)
    out.push({ relation: 'next', url: selfUrl(links, { ...page, _offset: String(offset + count) }) });
  if (offset > 0) out.push({ relation: 'previous', url: selfUrl(links, { ...page, _offset: String(Math.max(0, offset - count)) }) });
  return out;
}
