import { randomUUID } from 'node:crypto';
import { OperationOutcomeError } from '@medplum/core';
import type { Bundle, BundleEntry, BundleEntryResponse, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { type Condition, conditionKey, matchConditions } from './condition-lock';
import { type EntryTarget, parseEntryRequest } from './bundle-entry-request';
import { badRequest, FhirError } from './outcomes';
import type { Repository } from './repository';
import { rememberIndex } from './resource-writer';
import { preparationError, WritePreparationPool } from './write-preparation-pool';
import { parseSearch } from './search/parse-search';

/** How a Bundle is processed; bulk importers pass a pool to validate and index off the main thread. */
export interface BundleOptions {
  readonly preparation?: WritePreparationPool;
  /**
   * What a conditional create or update whose query matches several resources does: 'error' (412, the
   * FHIR default) or 'create' (write a new resource and note it in `warnings`), which importers use so
   * one ambiguous vendor id does not lose a whole document.
   */
  readonly ambiguousUpdate?: 'error' | 'create';
  readonly warnings?: string[];
}

/** Marks an update that changed nothing (no new version was written). */
export const UNCHANGED: OperationOutcome = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'information', code: 'informational', details: { text: 'unchanged' } }],
};

/** Order of processing within a transaction, as FHIR R4 §3.1.0.11.2 requires. */
const METHOD_ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, GET: 3 };

/** Processes a transaction (all or nothing) or batch (each entry alone) Bundle. */
export async function processBundle(repo: Repository, bundle: Bundle, options: BundleOptions = {}): Promise<Bundle> {
  if (bundle?.resourceType !== 'Bundle') throw badRequest('POST /fhir takes a Bundle', 'resourceType');
  if (bundle.type === 'transaction') return repo.transaction((trx) => processTransaction(trx, bundle, options));
  if (bundle.type === 'batch') return processBatch(repo, bundle, options);
  throw badRequest(`Bundle.type must be transaction or batch, got "${bundle.type}"`, 'Bundle.type');
}

/** The entries with what each asks for (parseEntryRequest); the first entry that is not a request is the 400/405. */
function checkEntries(
  bundle: Bundle,
  fhirBase: string,
  indexOf: (i: number) => number,
): { entries: BundleEntry[]; targets: EntryTarget[] } {
  const entries = bundle.entry ?? [];
  if (!Array.isArray(entries)) throw badRequest('Bundle.entry must be a list', 'Bundle.entry');
  const targets = entries.map((entry, i) => {
    const where = `Bundle.entry[${indexOf(i)}]`;
    const target = parseEntryRequest(entry?.request, fhirBase, `${where}.request`);
    if (target.kind === 'create' || target.kind === 'update' || target.kind === 'conditional-update') {
      if (!entry.resource) throw badRequest(`${where} has no resource to ${entry.request!.method}`, `${where}.resource`);
      if (entry.resource.resourceType !== target.type) {
        throw badRequest(
          `${where}.resource is a ${entry.resource.resourceType} but its request.url is for ${target.type}`,
          `${where}.resource.resourceType`,
        );
      }
    }
    return target;
  });
  return { entries, targets };
}

async function processTransaction(
  repo: Repository,
  bundle: Bundle,
  options: BundleOptions,
  indexOf: (i: number) => number = (i) => i,
): Promise<Bundle> {
  const { entries, targets } = checkEntries(bundle, repo.context.fhirBase, indexOf);
  const order = entries
    .map((_, i) => i)
    .sort((a, b) => METHOD_ORDER[entries[a].request!.method] - METHOD_ORDER[entries[b].request!.method] || a - b);
  const responses = new Array<BundleEntry>(entries.length);
  const idMap = new Map<string, string>();
  const matches = await matchConditions(repo.db, conditionsOf(entries, targets), (c) => conditionalTarget(repo, c.type, c.query, options));

  // Conditional creates first: a match maps the fullUrl to the existing resource.
  for (const i of order) {
    const entry = entries[i];
    if (entry.request!.method === 'POST' && entry.request!.ifNoneExist) {
      const existing = matches.get(conditionKey({ type: entry.resource!.resourceType, query: entry.request!.ifNoneExist }));
      if (existing) {
        if (entry.fullUrl) idMap.set(entry.fullUrl, `${existing.resourceType}/${existing.id}`);
        responses[i] = {
          fullUrl: `${repo.context.fhirBase}/${existing.resourceType}/${existing.id}`,
          response: okResponse('200 OK', existing),
        };
      }
    }
  }
  // Updates: a conditional one (PUT Type?query) resolves to its one match, or to a new id (412 if several).
  const putIds = new Map<number, string>();
  for (const i of order) {
    const entry = entries[i];
    const target = targets[i];
    if (target.kind !== 'update' && target.kind !== 'conditional-update') continue;
    const type = target.type;
    const id = target.kind === 'update' ? target.id : (matches.get(conditionKey({ type, query: target.query }))?.id ?? randomUUID());
    putIds.set(i, id);
    if (entry.fullUrl) idMap.set(entry.fullUrl, `${type}/${id}`);
  }
  // Assign ids to the plain creates so every urn:uuid reference can be rewritten before any write.
  const creates: { index: number; resource: Resource & { id: string } }[] = [];
  for (const i of order) {
    const entry = entries[i];
    if (entry.request!.method !== 'POST' || responses[i]) continue;
    const id = randomUUID();
    creates.push({ index: i, resource: { ...entry.resource!, id } });
    if (entry.fullUrl) idMap.set(entry.fullUrl, `${entry.resource!.resourceType}/${id}`);
  }
  for (const i of order) {
    const entry = entries[i];
    const target = targets[i];
    if (target.kind !== 'delete') continue;
    await repo.delete(target.type, target.id, { ifMatch: entry.request!.ifMatch });
    responses[i] = { response: { status: '204 No Content' } };
  }
  const toCreate = creates.map((c) => rewriteReferences(c.resource, idMap));
  await validateCreates(
    repo,
    toCreate,
    creates.map((c) => indexOf(c.index)),
    options.preparation,
  );
  const created = await repo.createMany(toCreate, { validated: true });
  created.forEach((resource, k) => {
    responses[creates[k].index] = {
      fullUrl: `${repo.context.fhirBase}/${resource.resourceType}/${resource.id}`,
      resource,
      response: okResponse('201 Created', resource),
    };
  });
  for (const i of order) {
    const entry = entries[i];
    const method = entry.request!.method;
    if (method === 'PUT') {
      const resource = rewriteReferences({ ...entry.resource!, id: putIds.get(i) }, idMap);
      const {
        resource: saved,
        created: isNew,
        unchanged,
      } = await withEntryIndex([indexOf(i)], () => repo.update(resource, { ifMatch: entry.request!.ifMatch }));
      const response = okResponse(isNew ? '201 Created' : '200 OK', saved);
      if (unchanged) response.outcome = UNCHANGED;
      responses[i] = { fullUrl: `${repo.context.fhirBase}/${saved.resourceType}/${saved.id}`, resource: saved, response };
    } else if (method === 'GET') {
      responses[i] = await readEntry(repo, targets[i]);
    }
  }
  return { resourceType: 'Bundle', type: 'transaction-response', entry: responses };
}

/** The conditions of the conditional creates and updates among these entries (see condition-lock.ts). */
function conditionsOf(entries: BundleEntry[], targets: EntryTarget[]): Condition[] {
  const conditions: Condition[] = [];
  entries.forEach((entry, i) => {
    const target = targets[i];
    const { ifNoneExist } = entry.request!;
    if (target.kind === 'create' && ifNoneExist) conditions.push({ type: target.type, query: ifNoneExist });
    if (target.kind === 'conditional-update') conditions.push({ type: target.type, query: target.query });
  });
  return conditions;
}

/**
 * Validates every create before anything is written, failing on the first invalid one in order. With a
 * pool, the workers validate and also compute the index rows, which the writer then picks up.
 */
async function validateCreates(
  repo: Repository,
  resources: Resource[],
  entryIndexes: number[],
  pool: WritePreparationPool | undefined,
): Promise<void> {
  if (!pool) {
    // One by one as a direct write is validated: a portal caller's budget, a large resource off the event loop.
    for (let k = 0; k < resources.length; k++) {
      await withEntryIndex([entryIndexes[k]], () => repo.validateInput(resources[k]));
    }
    return;
  }
  const prepared = await pool.prepare(resources);
  for (let k = 0; k < resources.length; k++) {
    const { error, index } = prepared[k];
    if (error) {
      await withEntryIndex([entryIndexes[k]], () => Promise.reject(preparationError(error)));
    }
    rememberIndex(resources[k], index!);
  }
}

async function conditionalTarget(repo: Repository, type: string, query: string, options: BundleOptions): Promise<Resource | undefined> {
  try {
    return await repo.conditionalMatch(type, query);
  } catch (err) {
    if (!(err instanceof FhirError) || err.status !== 412 || options.ambiguousUpdate !== 'create') throw err;
    options.warnings?.push(`${type}?${decodeURIComponent(query)} matched several resources; a new one was created`);
    return undefined;
  }
}

async function processBatch(repo: Repository, bundle: Bundle, options: BundleOptions): Promise<Bundle> {
  const entries = bundle.entry ?? [];
  if (!Array.isArray(entries)) throw badRequest('Bundle.entry must be a list', 'Bundle.entry');
  const responses: BundleEntry[] = [];
  for (const [index, entry] of entries.entries()) {
    try {
      // Each entry is read and run on its own: one that is not a request is its own 400/405, not the batch's.
      const single: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [entry] };
      responses.push(await repo.transaction((trx) => processTransaction(trx, single, options, () => index)).then((b) => b.entry![0]));
    } catch (err) {
      if (!(err instanceof OperationOutcomeError)) throw err;
      const status = err instanceof FhirError ? err.status : 400;
      responses.push({ response: { status: String(status), outcome: err.outcome } });
    }
  }
  return { resourceType: 'Bundle', type: 'batch-response', entry: responses };
}

/** A GET entry: read, version read, search or history, as the direct request would answer it. */
async function readEntry(repo: Repository, target: EntryTarget): Promise<BundleEntry> {
  switch (target.kind) {
    case 'read': {
      const resource = await repo.read(target.type as Resource['resourceType'], target.id);
      return { resource, response: okResponse('200 OK', resource) };
    }
    case 'vread': {
      const stored = await repo.vread(target.type, target.id, target.version);
      const resource = JSON.parse(stored.content) as Resource;
      return { resource, response: okResponse('200 OK', resource) };
    }
    case 'history': {
      const params = new URLSearchParams(target.query);
      for (const name of params.keys())
        if (name !== '_since' && name !== '_count') throw badRequest(`History takes _since and _count, not ${name}`, name);
      const raw = params.get('_count');
      if (raw !== null && !/^[1-9]\d{0,19}$/.test(raw)) throw badRequest('_count must be a positive integer', '_count');
      const bundle = await repo.history(target.type, target.id, {
        since: params.get('_since') ?? undefined,
        count: raw === null ? undefined : Number(raw),
      });
      return { resource: bundle, response: { status: '200 OK' } };
    }
    case 'search':
      return { resource: await repo.search(parseSearch(target.type, target.query)), response: { status: '200 OK' } };
    default:
      throw new Error(`readEntry: ${target.kind} is not a GET`);
  }
}

function okResponse(status: string, resource: Resource): BundleEntryResponse {
  return {
    status,
    location: `${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`,
    etag: `W/"${resource.meta?.versionId}"`,
    lastModified: resource.meta?.lastUpdated,
  };
}

/** Replaces every reference, uri or url that names a fullUrl of this Bundle with the resource's real Type/id. */
export function rewriteReferences<T>(value: T, idMap: Map<string, string>): T {
  if (!idMap.size) return value;
  return rewriteIn(value, idMap) as T;
}

/**
 * Copy on write: only the objects and arrays on the way to a rewritten string are copied; everything else is
 * shared with the input (an import rewrites a few references per resource, and copying whole resources was a
 * good part of its garbage).
 */
function rewriteIn(value: unknown, idMap: Map<string, string>): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      // Strings directly in arrays are left as they are; strings are rewritten as element values.
      const rewritten = typeof item === 'object' && item !== null ? rewriteIn(item, idMap) : item;
      if (rewritten !== item) (out ??= value.slice() as unknown[])[i] = rewritten;
    }
    return out ?? value;
  }
  if (value && typeof value === 'object') {
    let out: Record<string, unknown> | undefined;
    for (const key in value) {
      const v = (value as Record<string, unknown>)[key];
      // `reference` and also uri/url elements (e.g. Attachment.url) may name another entry's fullUrl.
      const rewritten = typeof v === 'string' ? (idMap.get(v) ?? v) : rewriteIn(v, idMap);
      if (rewritten !== v) (out ??= { ...(value as Record<string, unknown>) })[key] = rewritten;
    }
    return out ?? value;
  }
  return value;
}

/** Names the failing entry in the OperationOutcome, so a 400 says which entry of the Bundle was wrong. */
async function withEntryIndex<T>(indexes: number[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof FhirError && indexes.length === 1) {
      for (const issue of err.outcome.issue ?? []) {
        issue.expression = (issue.expression ?? []).map((e) => `Bundle.entry[${indexes[0]}].resource.${e}`);
      }
    }
    throw err;
  }
}
