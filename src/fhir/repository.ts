import { randomUUID } from 'node:crypto';
import { deepEquals, SearchRequest } from '@medplum/core';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { Kysely, RawBuilder, SqlBool, sql } from 'kysely';
import type { AccessScope } from '../access/access-scope';
import type { TimedCondition } from '../access/caller';
import type { AccessedResource, AuditTrail } from './audit/audit-trail';
import { settleAuditLog } from './audit/audit-log';
import { prepared } from '../db/prepared-statement';
import type { AuditInteraction } from '../access/audit-event';
import { uploaderOwner } from '../access/record-owners';
import { hiddenVersion, releases, type StatusFields } from '../access/release-visibility';
import { noteRelease } from './release-notice-store';
import { issuesStatement, noteStatementIssued } from './billing-notice-store';
import { historyCurrentCondition, versionVisibilityCondition, visibilityCondition, visibilityConditionAnyType } from '../access/visibility';
import { SERVICE_ONLY_TYPES } from '../access/write-policy';
import type { Tables } from '../db/tables';
import type { Clock } from './clock';
import { isSupportedType } from './definitions';
import { CATALOG_TYPES, catalogHistory, catalogSearch, catalogStored, catalogWriteRefused } from './catalog-reads';
import { conditionKey, matchConditions } from './condition-lock';
import { badRequest, FhirError, forbidden, gone, internalError, methodNotAllowed, notFound, preconditionFailed } from './outcomes';
import { withVisibleEntities } from './audit-entity-view';
import { insertNew, lockCurrent, prepareDelete, prepareWrite, PreparedWrite, replaceCurrent } from './resource-writer';
import { binaryPlace, keptForOrganization, type Replaced } from './write-placement';
import { bundleObject, bundleText, SearchLinks, type SearchPage, searchPage } from './search/search-executor';
import { parseSearch } from './search/parse-search';
import { dateRange } from './search/date-range';
import { validateForWrite } from './validate-for-write';
import { checkPortalBudget } from './write-budget';
import type { WritePreparationPool } from './write-preparation-pool';
import type { WriteCheck, WriteCheckSession, WriteFiles } from './write-check';
import type { BinaryStore, ByteRange, ContentDescriptor, ReceivedContent } from './binary/binary-store';
import { CONTENT_PART_BYTES, databaseBinaryStore } from './binary/database-binary-store';
import { checkRestatedContent, type Detached, detachContent } from './binary/detach-content';
import { uploadLimitsFor, type UploadLimits } from './binary/upload-limits';
import type { EndpointPolicy } from './subscriptions/endpoint-policy';
import { checkSubscriptionWrite } from './subscriptions/subscription-write-check';
import { endedContent, judgesVersions, versionAdmitted } from './version-filter';

/** A stored version as the HTTP layer serves it: the JSON text as stored, plus its headers. */
export interface StoredVersion {
  readonly type: string;
  readonly id: string;
  readonly version: number;
  readonly lastUpdated: Date;
  readonly content: string;
}

/** The result of a create: the resource, and whether a conditional create found one instead. */
export interface CreateResult<T extends Resource = Resource> {
  readonly resource: T;
  readonly created: boolean;
  /** An update whose content equalled the current version: nothing was written. */
  readonly unchanged?: boolean;
}

/** Everything a repository needs besides the database handle. */
export interface RepositoryContext {
  readonly scope: AccessScope;
  readonly clock: Clock;
  /** Base URL of the FHIR API, e.g. http://localhost:8080/fhir, for fullUrls and links. */
  readonly fhirBase: string;
  /** The request's audit trail: what this caller reads and writes in others' records becomes AuditEvents. */
  readonly audit?: AuditTrail;
  /**
   * The caller was taken on trust (Caller.unconfirmed): readStored checks this condition in its own statement and
   * serves nothing unless it holds; every other call is refused.
   */
  readonly unconfirmed?: RawBuilder<SqlBool>;
  /** The same condition with the time as its one value per request, when it has that form (Unconfirmed.timed). */
  readonly unconfirmedTimed?: TimedCondition;
  /** The rules a portal caller's writes obey (scope.portalRules); a portal scope without them writes nothing. */
  readonly portalWriteCheck?: WriteCheck;
  /**
   * Rules every caller's writes obey, staff's too (how a portal request may be answered), run after the portal's.
   * Absent for the service's own repositories (jobs, seeding, the CLI's import).
   */
  readonly writeCheck?: WriteCheck;
  /** Where Binary content is kept (default: the database itself). */
  readonly binaries?: BinaryStore;
  /** Largest file staff and systems may store (MAX_BINARY_BYTES; default 100 MB). */
  readonly maxBinaryBytes?: number;
  /** Workers that validate large resources off the event loop (validate-for-write.ts); in-process without. */
  readonly preparation?: WritePreparationPool;
  /** Where Subscriptions may deliver (SUBSCRIPTION_ALLOW_HOSTS); default: public https, http on loopback. */
  readonly subscriptionEndpoints?: EndpointPolicy;
  /** The database's kind, for reads that take a faster way on PostgreSQL (an export's download); absent: the common way. */
  readonly databaseKind?: 'postgres' | 'pglite';
}

/** What a write may carry besides the resource: a raw upload's bytes, for a Binary. */
export interface WriteContent {
  readonly content?: ReceivedContent;
  /** The file's name, for a raw upload that gives one. */
  readonly filename?: string;
}

/** The current row as readStored reads it, with whether the caller may act (see RepositoryContext.unconfirmed). */
interface StoredRow {
  readonly caller_ok: boolean;
  readonly version: number;
  readonly last_updated: Date;
  readonly deleted: boolean;
  readonly content: string | null;
  readonly compartments: string[];
}

/** A version of one resource as vread and history read it from resource_history. */
interface VersionRow {
  readonly id: string;
  readonly version: number;
  readonly last_updated: Date;
  readonly deleted: boolean;
  readonly content: string;
  readonly compartments: string[];
  readonly owners: string[];
  readonly ended_content: string | null;
}

/** What a deletion ended, for callers whose query scope judges each version of `type` (version-filter.ts); else null. */
function endedContentColumn(scope: AccessScope, type: string): RawBuilder<unknown> {
  return judgesVersions(scope, type) ? sql`${endedContent('h')} as ended_content` : sql`null as ended_content`;
}

/** A read by a caller taken on trust found the account or session changed: resolve the caller afresh and retry. */
export class CallerChanged extends Error {
  constructor() {
    super('The account or session changed since the caller was resolved');
  }
}

const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/** Parses an If-Match / ETag value (`W/"3"`, `"3"` or `3`) into a version number. */
export function parseVersionTag(tag: string): number {
  const match = /^(?:W\/)?"?(\d+)"?$/.exec(tag.trim());
  if (!match) throw badRequest(`Invalid version tag "${tag}"; expected W/"<versionId>"`);
  return Number(match[1]);
}

/**
 * The FHIR resource layer for one caller: CRUD, versions, history and search, every query
 * limited to what the caller's AccessScope lets them see.
 */
export class Repository {
  private confirmed = false;

  constructor(
    readonly db: Kysely<Tables>,
    readonly context: RepositoryContext,
  ) {}

  /** Whether a statement of this repository confirmed its caller taken on trust (RepositoryContext.unconfirmed). */
  get callerConfirmed(): boolean {
    return this.confirmed;
  }

  /** Runs fn inside one database transaction (joining the current one if there is one). */
  async transaction<T>(fn: (repo: Repository) => Promise<T>): Promise<T> {
    this.refuseUnconfirmed();
    if (this.db.isTransaction) return fn(this);
    return this.db.transaction().execute((trx) => fn(new Repository(trx, this.context)));
  }

  /**
   * Validates a resource this caller is about to write: a portal caller's against the portal's budget first (which
   * refuses at once what would take long to validate), then against its definitions, off the event loop if large.
   */
  async validateInput(resource: Resource): Promise<void> {
    if (this.context.scope.portalRules && resource && typeof resource === 'object') checkPortalBudget(resource);
    await validateForWrite(resource, this.context.preparation);
  }

  /** Reads the current version as stored text (the fast path for GET by id). */
  async readStored(type: string, id: string): Promise<StoredVersion> {
    checkType(type);
    if (CATALOG_TYPES.has(type)) return catalogStored(type, id);
    if (!ID_PATTERN.test(id)) throw notFound(`${type}/${id}`);
    await this.settleAuditEvents(type);
    return this.audited(
      async () => {
        const visible = visibilityCondition(this.context.scope, type);
        const { unconfirmed } = this.context;
        const current = sql`r.resource_type = ${type} and r.id = ${id}${visible ? sql` and ${visible}` : sql``}`;
        const columns = sql`r.version, r.last_updated, r.deleted, r.content, r.compartments`;
        // Prepared once per connection: one text per type and kind of caller scope (values are parameters). A caller
        // taken on trust is confirmed in the same statement, which then always returns one row saying whether it may act.
        const { rows } = await prepared(
          unconfirmed
            ? sql<StoredRow>`select c.ok as caller_ok, ${columns} from (select ${unconfirmed} as ok) c left join resource r on ${current}`
            : sql<StoredRow>`select true as caller_ok, ${columns} from resource r where ${current}`,
        ).execute(this.db);
        const row = rows[0];
        if (row && !row.caller_ok) throw new CallerChanged();
        if (unconfirmed) this.confirmed = true;
        if (!row?.content) throw notFound(`${type}/${id}`);
        if (row.deleted) throw gone(`${type}/${id}`);
        this.note('read', [{ type, id, compartments: row.compartments }]);
        return this.presentStored({ type, id, version: row.version, lastUpdated: new Date(row.last_updated), content: row.content });
      },
      { confirmsCaller: true },
    );
  }

  /** Reads the current version of a resource. */
  async read<T extends Resource>(type: T['resourceType'], id: string): Promise<T> {
    return JSON.parse((await this.readStored(type, id)).content) as T;
  }

  /** Reads one historic version. */
  async vread(type: string, id: string, versionId: string): Promise<StoredVersion> {
    if (CATALOG_TYPES.has(type)) return catalogStored(type, id, versionId);
    return this.audited(() => this.vreadVisible(type, id, versionId));
  }

  /**
   * One version, when the caller may see the resource as it is now and the version in the record it was in (a
   * resource moved from another patient's record shows none of its earlier versions to this one's family).
   */
  private async vreadVisible(type: string, id: string, versionId: string): Promise<StoredVersion> {
    checkType(type);
    const version = Number(versionId);
    if (!ID_PATTERN.test(id) || !/^\d{1,9}$/.test(versionId) || version < 1) throw notFound(`${type}/${id}/_history/${versionId}`);
    const scope = this.context.scope;
    const current = historyCurrentCondition(scope, type, 'r');
    const own = versionVisibilityCondition(scope, type, 'h');
    const { rows } = await sql<VersionRow>`
      select h.id, h.version, h.last_updated, h.deleted, h.content, h.compartments, h.owners, ${endedContentColumn(scope, type)}
      from resource r join resource_history h on h.resource_type = r.resource_type and h.id = r.id and h.version = ${version}
      where r.resource_type = ${type} and r.id = ${id}${current ? sql` and ${current}` : sql``}${own ? sql` and ${own}` : sql``}`.execute(
      this.db,
    );
    const row = rows[0];
    if (!row || !versionAdmitted(scope, { ...row, resource_type: type })) throw notFound(`${type}/${id}/_history/${versionId}`);
    if (row.deleted) throw gone(`${type}/${id}/_history/${versionId}`);
    if (this.hidesVersion(row.content)) throw notFound(`${type}/${id}/_history/${versionId}`);
    this.note('vread', [{ type, id, compartments: row.compartments }]);
    return this.presentStored({ type, id, version: row.version, lastUpdated: new Date(row.last_updated), content: row.content });
  }

  /** Creates a resource with a new id; with ifNoneExist, returns the one match instead if there is one. */
  async create<T extends Resource>(resource: T, options: { ifNoneExist?: string } & WriteContent = {}): Promise<CreateResult<T>> {
    checkType(resource.resourceType);
    if (CATALOG_TYPES.has(resource.resourceType)) catalogWriteRefused(resource.resourceType);
    const detached = this.detach({ ...resource, id: randomUUID() }, options);
    checkRestatedContent(detached, undefined);
    await this.validateInput(detached.resource);
    return this.audited(() =>
      this.transaction(async (repo) => {
        if (options.ifNoneExist) {
          // The search and the write in one transaction; the condition is locked only while nothing matches, so a
          // retry cannot create it twice (condition-lock.ts).
          const condition = { type: resource.resourceType, query: options.ifNoneExist };
          const matches = await matchConditions(repo.db, [condition], (c) => repo.conditionalMatch(c.type, c.query));
          const existing = matches.get(conditionKey(condition));
          if (existing) return { resource: existing as T, created: false };
        }
        const batch = [detached.resource, ...detached.binaries];
        const write = await repo.prepare(detached.resource, 1, batch, undefined, [detached]);
        const { writes: files, alongside } = await repo.storeFiles([detached], batch, { alongside: true });
        await insertNew(repo.db, [...files, write], alongside);
        await repo.noteIssued(undefined, write);
        repo.note('create', [accessed(write), ...files.map(accessed)]);
        return { resource: write.resource as unknown as T, created: true };
      }),
    );
  }

  /** The limits on the files this caller stores (a portal caller's, or MAX_BINARY_BYTES). */
  uploadLimits(): UploadLimits {
    return uploadLimitsFor(this.context.scope, this.context.maxBinaryBytes);
  }

  /** The bytes of stored content, or of a range of it (the caller has read the Binary that names it). */
  openContent(content: ContentDescriptor, range?: ByteRange): AsyncIterable<Buffer> {
    return (this.context.binaries ?? databaseBinaryStore).read(this.db, content, range);
  }

  /** Takes file content out of a resource about to be written (binary/detach-content.ts). */
  private detach(resource: Resource & { id: string }, upload: WriteContent = {}): Detached {
    if (upload.content && resource.resourceType !== 'Binary')
      throw badRequest(`A raw body is content for a Binary, not a ${resource.resourceType}`);
    return detachContent(resource, this.uploadLimits(), upload.content, upload.filename);
  }

  /**
   * Stores the content of these writes and prepares the Binaries their attachments became (after the resources
   * themselves, whose checks name the attachment). A Binary an earlier write of the same file made is there already.
   * With `alongside`, content the store can write inside the statement that inserts the versions (insertNew) is not
   * written here but returned as that statement's common table expressions: the bytes go to the database in the same
   * round trip as the resource, its history and index rows. At most one part's worth of bytes goes that way, so that
   * statement stays as small as the store's own.
   */
  private async storeFiles(
    detached: readonly Detached[],
    batch: Resource[],
    options: { alongside?: boolean } = {},
  ): Promise<{ writes: PreparedWrite[]; alongside: RawBuilder<unknown>[] }> {
    const store = this.context.binaries ?? databaseBinaryStore;
    const alongside: RawBuilder<unknown>[] = [];
    const written = new Set<string>();
    let alongsideBytes = 0;
    for (const { contents } of detached) {
      for (const { content, contentType } of contents) {
        // The same bytes twice in one write are stored once.
        if (written.has(content.sha256)) continue;
        written.add(content.sha256);
        const inline =
          options.alongside && alongsideBytes + content.size <= CONTENT_PART_BYTES
            ? store.writeWith?.(content, contentType, `content_${alongside.length}`)
            : undefined;
        if (inline) {
          alongside.push(inline);
          alongsideBytes += content.size;
        } else await store.save(this.db, content, contentType);
      }
    }
    const binaries = detached.flatMap((d) => d.binaries);
    if (!binaries.length) return { writes: [], alongside };
    const { rows } = await sql<{
      id: string;
    }>`select id from resource where resource_type = 'Binary' and id = any(${binaries.map((b) => b.id)}::text[])`.execute(this.db);
    const existing = new Set(rows.map((row) => row.id));
    const writes: PreparedWrite[] = [];
    for (const binary of binaries) if (!existing.has(binary.id)) writes.push(await this.prepare(binary, 1, batch, undefined, detached));
    return { writes, alongside };
  }

  /**
   * Updates a resource (creating it under the client's id if it does not exist). With ifMatch,
   * the write happens only if that version is still current; otherwise 412.
   */
  async update<T extends Resource>(input: T, options: { ifMatch?: string } & WriteContent = {}): Promise<CreateResult<T>> {
    const type = input.resourceType;
    checkType(type);
    checkWritableType(type);
    const id = input.id;
    if (!id) throw badRequest('An update needs the resource id in the body', `${type}.id`);
    if (!ID_PATTERN.test(id)) throw badRequest(`Invalid id "${id}"`, `${type}.id`);
    const detached = this.detach(input as Resource & { id: string }, options);
    const resource = detached.resource;
    await this.validateInput(resource);
    const batch = [resource, ...detached.binaries];
    const expected = options.ifMatch ? parseVersionTag(options.ifMatch) : undefined;
    return this.audited(() =>
      this.transaction(async (repo) => {
        const current = await lockCurrent(repo.db, type, id);
        if (current && !(await repo.isVisibleRow(type, id))) throw notFound(`${type}/${id}`);
        if (!current) {
          if (expected !== undefined) throw preconditionFailed(`${type}/${id} does not exist, so version ${expected} is not current`);
          checkRestatedContent(detached, undefined);
          const write = await repo.prepare(resource, 1, batch, { owners: [] }, [detached]);
          const { writes: files, alongside } = await repo.storeFiles([detached], batch, { alongside: true });
          await insertNew(repo.db, [...files, write], alongside);
          await repo.noteIssued(undefined, write);
          repo.note('create', [accessed(write), ...files.map(accessed)]);
          return { resource: write.resource as unknown as T, created: true };
        }
        // The stored version, read once: what it may be replaced by, whether it is restated, whether this releases it.
        const stored = current.deleted ? undefined : (JSON.parse(current.content) as Resource);
        // The version being replaced must be writable too, not only the new one (moving a record out of a compartment).
        if (stored && !repo.context.scope.canWrite(stored, current.compartments, true)) {
          throw forbidden(`You may not write ${type} for this patient`);
        }
        if (expected !== undefined && expected !== current.version) {
          throw preconditionFailed(`${type}/${id} is at version ${current.version}, not ${expected}`);
        }
        checkRestatedContent(detached, stored);
        // Restating a resource as it is (e.g. importing the same document again) writes no new version.
        if (stored && deepEquals(withoutMeta(stored), withoutMeta(resource)))
          return { resource: stored as unknown as T, created: false, unchanged: true };
        const write = await repo.prepare(
          resource,
          current.version + 1,
          batch,
          { resource: stored, owners: current.owners, versionChecked: expected !== undefined },
          [detached],
        );
        const { writes: files } = await repo.storeFiles([detached], batch);
        await replaceCurrent(repo.db, [write]);
        await insertNew(repo.db, files);
        if (stored && releases(stored, write.resource)) await noteRelease(repo.db, write, repo.context.clock.now());
        await repo.noteIssued(stored, write);
        repo.note('update', [accessed(write)]);
        if (files.length) repo.note('create', files.map(accessed));
        return { resource: write.resource as unknown as T, created: false };
      }),
    );
  }

  /** Deletes a resource: it leaves search and reads answer 410, but its history stays. */
  async delete(type: string, id: string, options: { ifMatch?: string } = {}): Promise<void> {
    checkType(type);
    const expected = options.ifMatch ? parseVersionTag(options.ifMatch) : undefined;
    checkWritableType(type);
    await this.audited(() =>
      this.transaction(async (repo) => {
        const current = await lockCurrent(repo.db, type, id);
        if (!current || !(await repo.isVisibleRow(type, id))) throw notFound(`${type}/${id}`);
        if (current.deleted) return;
        if (!repo.context.scope.canWrite(JSON.parse(current.content) as Resource, current.compartments, true)) {
          throw forbidden(`You may not delete ${type} for this patient`);
        }
        if (expected !== undefined && expected !== current.version) {
          throw preconditionFailed(`${type}/${id} is at version ${current.version}, not ${expected}`);
        }
        await replaceCurrent(repo.db, [prepareDelete(type, id, current.version + 1, repo.context.clock.now(), current)]);
        repo.note('delete', [{ type, id, compartments: current.compartments }]);
      }),
    );
  }

  /** Inserts many new resources (ids already assigned) in one batch; used by transactions and imports. */
  async createMany(resources: (Resource & { id: string })[], options: { validated?: boolean } = {}): Promise<Resource[]> {
    const detached = resources.map((resource) => this.detach(resource));
    for (const d of detached) {
      checkRestatedContent(d, undefined);
      if (!options.validated) await this.validateInput(d.resource);
    }
    const batch = [...detached.map((d) => d.resource), ...detached.flatMap((d) => d.binaries)];
    return this.audited(() =>
      this.transaction(async (repo) => {
        const writes: PreparedWrite[] = [];
        for (const d of detached) writes.push(await repo.prepare(d.resource, 1, batch, undefined, detached));
        const { writes: files, alongside } = await repo.storeFiles(detached, batch, { alongside: true });
        await insertNew(repo.db, [...writes, ...files], alongside);
        for (const write of writes) await repo.noteIssued(undefined, write);
        repo.note('create', [...writes, ...files].map(accessed));
        return writes.map((w) => w.resource);
      }),
    );
  }

  /** Searches one resource type with FHIR query parameters. */
  async search(request: SearchRequest, links?: SearchLinks): Promise<Bundle> {
    const found = await this.runSearch(request, links);
    // A catalog Bundle is parsed from its text, so the caller holds a copy of its own.
    return 'resourceType' in found ? (JSON.parse(JSON.stringify(found)) as Bundle) : bundleObject(found);
  }

  /** The same search, as the searchset Bundle's JSON text (stored JSON put in as it is: what the API sends). */
  async searchText(request: SearchRequest, links?: SearchLinks): Promise<string> {
    const found = await this.runSearch(request, links);
    return 'resourceType' in found ? JSON.stringify(found) : bundleText(found);
  }

  /** A search's page (or, for the service's own catalog types, its Bundle), audited. */
  private async runSearch(request: SearchRequest, links?: SearchLinks): Promise<Bundle | SearchPage> {
    checkType(request.resourceType);
    const target = links ?? { url: `${this.context.fhirBase}/${request.resourceType}`, params: new URLSearchParams() };
    const { unconfirmed } = this.context;
    if (CATALOG_TYPES.has(request.resourceType)) {
      // No statement of its own to confirm a caller taken on trust in: resolved afresh first.
      if (unconfirmed) throw new CallerChanged();
      return catalogSearch(request, `${target.url}${target.params.size ? `?${target.params.toString()}` : ''}`);
    }
    // Access records waiting to become AuditEvents are looked for in the page's own statement, and settled only if any wait.
    const servesAuditEvents = [
      request.resourceType,
      ...[...(request.include ?? []), ...(request.revInclude ?? [])].map((i) => i.targetType ?? i.resourceType),
    ].includes('AuditEvent');
    const settleAudit =
      servesAuditEvents && !this.db.isTransaction ? (pending: boolean) => settleAuditLog(this.db, { pending }) : undefined;
    // A caller taken on trust is confirmed in the page's own statement, before anything else of the search runs.
    const confirmation = unconfirmed
      ? {
          condition: unconfirmed,
          timed: this.context.unconfirmedTimed,
          confirmed: (ok: boolean) => {
            if (!ok) throw new CallerChanged();
            this.confirmed = true;
          },
        }
      : undefined;
    // Staff and operators' searches record what they serve in the page's own statement: no insert of their own.
    const record = this.context.audit?.recordInStatement('search-type');
    return this.audited(
      () =>
        searchPage(this.db, this.context.scope, request, target, this.context.fhirBase, {
          onServed: (served) => this.note('search-type', served),
          confirmation,
          record,
          settleAudit,
        }),
      { confirmsCaller: true },
    );
  }

  /** Searches and returns just the matching resources (all pages up to `count`). */
  async searchResources<T extends Resource>(type: T['resourceType'], query: Record<string, string> = {}): Promise<T[]> {
    const bundle = await this.search(parseSearch(type, { _count: '1000', ...query }));
    return (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as T);
  }

  /** Every version of one resource, or of a whole type, newest first. */
  async history(type: string, id: string | undefined, options: { since?: string; count?: number } = {}): Promise<Bundle> {
    checkType(type);
    if (CATALOG_TYPES.has(type)) return catalogHistory(type, id, this.context.fhirBase);
    await this.settleAuditEvents(type);
    return this.audited(() => this.visibleHistory(type, id, options));
  }

  /**
   * Before AuditEvents are read, the access records committed so far become AuditEvents (see audit-log.ts), so a
   * caller always sees the reads that were answered before it asked.
   */
  private async settleAuditEvents(type: string, included: readonly (string | undefined)[] = []): Promise<void> {
    if (type === 'AuditEvent' || included.includes('AuditEvent')) await settleAuditLog(this.db);
  }

  /**
   * The versions of one resource or of a type, newest first: of the resources the caller may see as they are now,
   * the versions the caller may see in the record each was in (vreadVisible). Driven from the current rows, so the
   * visibility filter can use the index on owners before the history is read.
   */
  private async visibleHistory(type: string, id: string | undefined, options: { since?: string; count?: number }): Promise<Bundle> {
    const count = Math.min(Math.max(options.count ?? 100, 1), 1000);
    const scope = this.context.scope;
    if (id) await this.visibleCurrent(type, id, historyCurrentCondition(scope, type));
    const since = options.since ? dateRange(options.since) : undefined;
    if (options.since && !since) throw badRequest(`_since must be a FHIR instant, got "${options.since}"`, '_since');
    const current = historyCurrentCondition(scope, type, 'r');
    const own = versionVisibilityCondition(scope, type, 'h');
    const conditions = [
      sql`r.resource_type = ${type}`,
      ...(id ? [sql`r.id = ${id}`] : []),
      ...(current ? [current] : []),
      ...(own ? [own] : []),
      ...(since ? [sql`h.last_updated >= ${new Date(since.low)}`] : []),
    ];
    // A SMART query scope is judged on each version's own content after the rows are read, which may leave out some
    // of a batch: read on from the last row until the page is full or the versions run out (at most 10 batches: the
    // rest of a long history waits for a narrower _since, as a history past _count does).
    const judged = judgesVersions(scope, type);
    const batchSize = judged ? Math.max(count, 100) : count;
    const rows: VersionRow[] = [];
    let after: VersionRow | undefined;
    for (let batch = 1; ; batch++) {
      const { rows: found } = await sql<VersionRow>`
        select h.id, h.version, h.last_updated, h.deleted, h.content, h.compartments, h.owners, ${endedContentColumn(scope, type)}
        from resource r join resource_history h on h.resource_type = r.resource_type and h.id = r.id
        where ${sql.join(conditions, sql` and `)}
          ${after ? sql`and (h.last_updated, h.version, h.id) < (${new Date(after.last_updated)}::timestamptz, ${after.version}, ${after.id})` : sql``}
        order by h.last_updated desc, h.version desc, h.id desc
        limit ${batchSize}`.execute(this.db);
      for (const row of found) {
        if (
          rows.length < count &&
          versionAdmitted(scope, { ...row, resource_type: type }) &&
          (row.deleted || !this.hidesVersion(row.content))
        )
          rows.push(row);
      }
      after = found[found.length - 1];
      if (!judged || rows.length >= count || found.length < batchSize || batch === 10) break;
    }
    // A resource none of whose versions the caller's query scope admits is not theirs to see at all.
    if (id && judged && !rows.length) throw notFound(`${type}/${id}`);
    this.note(id ? 'history-instance' : 'history-type', dedupeRows(type, rows));
    const resources = await withVisibleEntities(
      this.db,
      scope,
      rows.map((row) => (row.deleted ? ({ resourceType: type } as Resource) : (JSON.parse(row.content) as Resource))),
    );
    const entries: BundleEntry[] = rows.map((row, i) => {
      const url = `${type}/${row.id}`;
      const response = {
        status: row.deleted ? '204' : row.version === 1 ? '201' : '200',
        etag: `W/"${row.version}"`,
        lastModified: new Date(row.last_updated).toISOString(),
      };
      if (row.deleted) return { fullUrl: `${this.context.fhirBase}/${url}`, request: { method: 'DELETE', url }, response };
      return {
        fullUrl: `${this.context.fhirBase}/${url}`,
        resource: scope.present(resources[i]),
        request: { method: row.version === 1 ? 'POST' : 'PUT', url: row.version === 1 ? type : url },
        response,
      };
    });
    return { resourceType: 'Bundle', type: 'history', total: entries.length, entry: entries };
  }

  /** Finds the single resource a conditional (If-None-Exist style) query names; 412 if several. */
  async conditionalMatch(type: string, query: string): Promise<Resource | undefined> {
    const request = parseSearch(type, query);
    if (!request.filters?.length) throw badRequest(`The condition "${query}" names no search parameter`);
    const bundle = await this.search({ ...request, count: 2 });
    const matches = bundle.entry ?? [];
    if (matches.length > 1) throw preconditionFailed(`The condition "${query}" matches more than one ${type}`);
    return matches[0]?.resource;
  }

  /**
   * The compartments of a resource the caller may see; 404 when they may not (or it does not exist). `visible`: the
   * condition on its current row (default: visibilityCondition).
   */
  private async visibleCurrent(
    type: string,
    id: string,
    visible: RawBuilder<unknown> | undefined = visibilityCondition(this.context.scope, type),
  ): Promise<string[]> {
    checkType(type);
    if (!ID_PATTERN.test(id)) throw notFound(`${type}/${id}`);
    const { rows } = await sql<{ compartments: string[] }>`select r.compartments from resource r
      where r.resource_type = ${type} and r.id = ${id}${visible ? sql` and ${visible}` : sql``}`.execute(this.db);
    if (!rows.length) throw notFound(`${type}/${id}`);
    return rows[0].compartments;
  }

  /**
   * Runs an $operation's reads as one audited access: one AuditEvent per patient, naming the operation, instead
   * of one per query it makes.
   */
  async asOperation<T>(operation: string, fn: () => Promise<T>, options: { recipient?: string } = {}): Promise<T> {
    this.refuseUnconfirmed();
    const audit = this.context.audit;
    return audit ? audit.unit(this.db, fn, operation, options.recipient) : fn();
  }

  /** Notes resources an operation served through its own SQL (the repository's own methods note theirs). */
  noteServed(resources: readonly AccessedResource[]): void {
    this.note('operation', resources);
  }

  /**
   * One unit of audited work: the AuditEvents are written when the outermost unit of the request ends. Only a unit
   * that confirms the caller itself (readStored) may run for a caller taken on trust.
   */
  private audited<T>(fn: () => Promise<T>, options: { confirmsCaller?: boolean } = {}): Promise<T> {
    if (!options.confirmsCaller) this.refuseUnconfirmed();
    const audit = this.context.audit;
    return audit ? audit.unit(this.db, fn) : fn();
  }

  /** A caller taken on trust may only read by id (see RepositoryContext.unconfirmed): a bug, not the caller's fault. */
  private refuseUnconfirmed(): void {
    if (this.context.unconfirmed) throw new Error('A caller taken on trust reached a repository call that does not confirm it');
  }

  private note(interaction: AuditInteraction, resources: readonly AccessedResource[]): void {
    this.context.audit?.record(interaction, resources);
  }

  /** Queues "a statement is available" when this write issues an Invoice (billing-notice-store.ts), in its transaction. */
  private async noteIssued(before: Resource | undefined, write: PreparedWrite): Promise<void> {
    if (issuesStatement(before, write.resource)) await noteStatementIssued(this.db, write, this.context.clock.now());
  }

  /** Whether the current row of this resource exists and the caller may see it. */
  async isVisibleRow(type: string, id: string): Promise<boolean> {
    const visible = visibilityCondition(this.context.scope, type);
    const { rows } =
      await sql`select 1 from resource r where r.resource_type = ${type} and r.id = ${id}${visible ? sql` and ${visible}` : sql``}`.execute(
        this.db,
      );
    return rows.length > 0;
  }

  /**
   * Which of `references` ("Type/id") name live resources the caller may see that are in this patient's record or
   * shared (in no record): what a re-imported document may point back at.
   */
  async visibleInRecord(references: readonly string[], patientId: string): Promise<Set<string>> {
    if (!references.length) return new Set();
    const visible = visibilityConditionAnyType(this.context.scope);
    // Matched on the key's own columns, so each reference is one primary-key lookup (a join on the "Type/id" text
    // would read the whole table).
    const wanted = references.map((reference) => reference.split('/')).filter((parts) => parts.length === 2);
    const { rows } = await sql<{ reference: string }>`select r.resource_type || '/' || r.id as reference
      from unnest(${wanted.map(([type]) => type)}::text[], ${wanted.map(([, id]) => id)}::text[]) as wanted(resource_type, id)
      join resource r on r.resource_type = wanted.resource_type and r.id = wanted.id
      where r.deleted = false and (cardinality(r.owners) = 0 or ${patientId} = any(r.owners))${visible ? sql` and ${visible}` : sql``}`.execute(
      this.db,
    );
    return new Set(rows.map((row) => row.reference));
  }

  /**
   * Whether every patient whose compartment a write lands in is one the caller may see: a stored one, or one created
   * in the same batch that the caller may create (staff importing a document of a new patient of theirs).
   */
  private async patientsVisible(ids: string[], batch: readonly Resource[] = []): Promise<boolean> {
    const visible = visibilityCondition(this.context.scope, 'Patient');
    if (!visible) return true;
    if (!ids.length) return false;
    const created = batch.filter((r) => r.resourceType === 'Patient' && ids.includes(r.id as string) && this.context.scope.canWrite(r));
    const stored = ids.filter((id) => !created.some((r) => r.id === id));
    if (!stored.length) return true;
    const { rows } = await sql<{ n: string }>`select count(*) as n from resource r
      where r.resource_type = 'Patient' and r.id = any(${stored}::text[]) and ${visible}`.execute(this.db);
    return Number(rows[0].n) === stored.length;
  }

  /**
   * Portal callers do not see earlier unreleased versions (drafts) of a result or document released since, nor a
   * version entered in error.
   */
  private hidesVersion(content: string): boolean {
    const scope = this.context.scope;
    return !!scope.releasedOnly && !scope.unrestricted && hiddenVersion(JSON.parse(content) as StatusFields);
  }

  /** Shapes a stored version for the caller: their reduced view, and an AuditEvent's entities they may see. */
  private async presentStored(stored: StoredVersion): Promise<StoredVersion> {
    const scope = this.context.scope;
    const whole = scope.presentsWhole || scope.presentsWholeType?.(stored.type) || scope.presentsWholeResource?.(stored.type, stored.id);
    if (scope.unrestricted || (whole && stored.type !== 'AuditEvent')) return stored;
    const [visible] = await withVisibleEntities(this.db, scope, [JSON.parse(stored.content) as Resource]);
    return { ...stored, content: JSON.stringify(scope.present(visible)) };
  }

  /**
   * Validated elsewhere; stamps, indexes and checks the caller may write what results. `replaced` is the version an
   * update replaces (an empty one for a create under the client's id).
   */
  private async prepare(
    resource: Resource & { id: string },
    version: number,
    batch: Resource[] = [],
    replaced?: Replaced,
    detached: readonly Detached[] = [],
  ): Promise<PreparedWrite> {
    checkWritableType(resource.resourceType);
    const scope = this.context.scope;
    const subscriptionOwner =
      resource.resourceType === 'Subscription' ? checkSubscriptionWrite(scope, resource, this.context.subscriptionEndpoints) : undefined;
    const placed = await binaryPlace(this.db, scope, resource, batch, replaced);
    const kept = keptForOrganization(scope, prepareWrite(resource, version, this.context.clock.now(), placed), replaced);
    const write: PreparedWrite = subscriptionOwner ? { ...kept, subscriptionOwner } : kept;
    // A new Patient is not visible yet: whether it may be created is canWrite's call (staff: their organisation).
    const allowed =
      scope.unrestricted ||
      scope.sharedTypes.has(resource.resourceType) ||
      (scope.organizationId !== undefined && write.owners.length === 1 && write.owners[0] === uploaderOwner(scope.organizationId)) ||
      (resource.resourceType === 'Patient'
        ? version === 1 || (await this.patientsVisible([resource.id]))
        : await this.patientsVisible(write.compartments, batch));
    if (!scope.canWrite(write.resource, write.compartments) || !allowed) {
      throw forbidden(`You may not write ${resource.resourceType} for this patient`);
    }
    const authorship = scope.authorshipIssues?.(write.resource, replaced?.resource) ?? [];
    if (authorship.length) {
      throw new FhirError(403, {
        resourceType: 'OperationOutcome',
        issue: authorship.map(({ text, expression }) => ({
          severity: 'error',
          code: 'forbidden',
          details: { text },
          expression: [expression],
        })),
      });
    }
    if (scope.portalRules) {
      const received = new Map(detached.flatMap((d) => d.contents.map(({ content }) => [content.sha256, content] as const)));
      const movedInline = new Set(detached.flatMap((d) => d.binaries.map((b) => b.id)));
      const files = { store: this.context.binaries ?? databaseBinaryStore, received, movedInline };
      // Fail closed: a repository built for a portal caller without the portal's rules is a wiring bug.
      if (!this.context.portalWriteCheck) throw internalError();
      await this.context.portalWriteCheck(write.resource, write.compartments, this.writeCheckSession(batch, files, replaced));
    }
    if (this.context.writeCheck)
      await this.context.writeCheck(write.resource, write.compartments, this.writeCheckSession(batch, undefined, replaced));
    return write;
  }

  /** The session a write check reads through: the writer's visibility, the batch's writes first. Checks are not audited. */
  private writeCheckSession(batch: readonly Resource[], files?: WriteFiles, replaced?: Replaced): WriteCheckSession {
    const { scope, fhirBase } = this.context;
    const db = this.db;
    return {
      db,
      scope,
      batch,
      fhirBase,
      files,
      replaced: replaced?.resource,
      versionChecked: replaced?.versionChecked,
      now: this.context.clock.now(),
      async readVisible<T extends Resource>(type: T['resourceType'], id: string): Promise<T | undefined> {
        const inBatch = batch.find((r) => r.resourceType === type && r.id === id);
        if (inBatch) return inBatch as T;
        const condition = visibilityCondition(scope, type);
        const { rows } = await sql<{ content: string }>`
          select r.content from resource r
          where r.resource_type = ${type} and r.id = ${id} and not r.deleted${condition ? sql` and ${condition}` : sql``}`.execute(db);
        return rows[0] ? (JSON.parse(rows[0].content) as T) : undefined;
      },
    };
  }
}

function accessed(write: PreparedWrite): AccessedResource {
  return { type: write.resource.resourceType, id: write.resource.id, compartments: write.compartments };
}

/** History rows of one resource are many versions of one access. */
function dedupeRows(type: string, rows: { id: string; compartments: string[] }[]): AccessedResource[] {
  const byId = new Map<string, AccessedResource>();
  for (const row of rows) byId.set(row.id, { type, id: row.id, compartments: row.compartments });
  return [...byId.values()];
}

function withoutMeta(resource: Resource): Resource {
  const { meta, ...rest } = resource;
  const { versionId: _v, lastUpdated: _l, ...keep } = meta ?? {};
  return Object.keys(keep).length ? { ...rest, meta: keep } : rest;
}

function checkType(type: string): void {
  if (!isSupportedType(type) && !CATALOG_TYPES.has(type)) throw badRequest(`Unsupported resource type: ${type}`);
}

/** AuditEvents are the service's own record of access: nobody writes them through the API, not even the operator. */
function checkWritableType(type: string): void {
  if (CATALOG_TYPES.has(type)) catalogWriteRefused(type);
  if (SERVICE_ONLY_TYPES.has(type))
    throw methodNotAllowed(`${type} is written by the service alone; it can be read and searched, not created, changed or deleted`);
}
