import type { Binary, Bundle, Resource } from '@medplum/fhirtypes';
import express, { Request, Response, Router } from 'express';
import type { Caller } from '../access/caller';
import { agePolicyByName } from '../access/age-policy-profiles';
import { type Config, portalConsentRequired } from '../config';
import { withPortalPolicy } from '../portal/enrollment/portal-policy-statement';
import { allowedBeforeConsent, consentRequiredError } from '../portal/enrollment/consent-required';
import { processBundle } from '../fhir/bundle-processor';
import { buildCapabilityStatement } from '../fhir/capability-statement';
import { badRequest, methodNotAllowed, notAcceptable, notFound, unsupportedMediaType } from '../fhir/outcomes';
import type { FhirOperation, OperationContext, OperationResult } from '../fhir/operations/operation';
import { WriteGate } from './write-gate';
import type { Repository } from '../fhir/repository';
import { historyFeed } from '../fhir/history-feed';
import { parseSearch } from '../fhir/search/parse-search';
import { PORTAL_MAX_ELEMENTS } from '../fhir/write-budget';
import { asyncHandler } from './async-handler';
import { bulkExportRouter } from './bulk-export-router';
import { megabytes, tooLarge } from '../fhir/binary/upload-limits';
import { receiveContent, sendBinaryContent, sendBinaryJson, uploadFilename } from './binary-transfer';
import { FHIR_JSON, sendJsonText, sendResource, sendStored, sendWritten } from './fhir-response';
import { jsonBody } from './json-body';
import { operationParams } from './operation-params';
import { type QueryParams, queryOf, queryValues } from './query-string';

/** What the FHIR router needs per request. */
export interface FhirRouterDeps {
  readonly config: Config;
  readonly operations: readonly FhirOperation[];
  /** Builds the repository for this request's caller (the access scope travels inside it). */
  repositoryFor(caller: Caller): Repository;
  readonly version: string;
}

const FHIR_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json'];

/** The most JSON objects and arrays in one FHIR body: JSON.parse of a million takes about a second of the event loop. */
export const MAX_BODY_CONTAINERS = 1_000_000;

/**
 * GET /fhir/Type/id and GET /fhir/Type (as seen under /fhir): a read-by-id or a search, whose handler confirms a caller
 * taken on trust in the statement that reads (Caller.unconfirmed). Operations ($...), _history and bulk-export do not
 * match the patterns.
 */
export function confirmsCallerInStatement(req: Request): boolean {
  return req.method === 'GET' && /^\/[A-Za-z]+(\/[A-Za-z0-9\-.]{1,64})?$/.test(req.path);
}

/** The FHIR R4 REST API: every interaction and registered $operation, under /fhir. */
export function fhirRouter(deps: FhirRouterDeps): Router {
  const router = Router();
  const { config } = deps;
  // A portal caller's body is held to the portal's budget before it is parsed (see write-budget.ts); anyone's to
  // MAX_BODY_CONTAINERS, which a real body (a transaction of thousands of resources) stays below.
  const json = jsonBody({
    type: FHIR_TYPES,
    limit: config.maxJsonBytes,
    strict: false,
    maxContainers: (res) => ((res.locals.caller as Caller | undefined)?.scope.portalRules ? PORTAL_MAX_ELEMENTS : MAX_BODY_CONTAINERS),
  });
  const raw = express.raw({ type: () => true, limit: config.maxJsonBytes });
  // Transaction bundles and C-CDA imports take turns for a share of the pool (write-gate.ts).
  const writeGate = new WriteGate();
  const xmlBody = express.raw({ type: () => true, limit: config.maxXmlBytes });
  const xml: express.RequestHandler = (req, res, next) =>
    xmlBody(req, res, (err?: unknown) =>
      next(
        (err as { type?: string } | undefined)?.type === 'entity.too.large'
          ? tooLarge(`The document is larger than ${megabytes(config.maxXmlBytes)} (MAX_XML_BYTES); nothing was imported`)
          : err,
      ),
    );
  const form = express.urlencoded({ extended: false, limit: '1mb' });
  const repoOf = (res: Response): Repository => deps.repositoryFor(res.locals.caller as Caller);
  /**
   * A read-by-id or a search with the request's caller. A caller taken on trust (Caller.unconfirmed) whose account,
   * session or access changed is resolved afresh, which is the 401 when it may no longer act, and the read runs again.
   */
  const readAsCaller = async <T>(res: Response, read: (repo: Repository) => Promise<T>): Promise<T> => {
    const repo = repoOf(res);
    // A repository that does not carry the caller's condition cannot confirm it: confirm it first.
    if ((res.locals.caller as Caller).unconfirmed && !repo.context.unconfirmed) return read(await confirmCaller(res));
    try {
      return await read(repo);
    } catch (err) {
      // Changed (CallerChanged), or refused before any statement confirmed it (an unknown type): the answer is the
      // fresh caller's, the 401 first of all.
      if (!(res.locals.caller as Caller).unconfirmed || repo.callerConfirmed) throw err;
      return read(await confirmCaller(res));
    }
  };
  /** Resolves a caller taken on trust afresh (the 401 when it may no longer act); the repository for the result. */
  const confirmCaller = async (res: Response): Promise<Repository> => {
    const { unconfirmed } = res.locals.caller as Caller;
    if (!unconfirmed) throw new Error('confirmCaller: the caller is not taken on trust');
    let fresh: Caller;
    try {
      fresh = await unconfirmed.confirm();
    } catch (refused) {
      res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw refused;
    }
    res.locals.caller = fresh;
    // The consent gate let the caller taken on trust through; the fresh one may have a new version of the form to
    // complete first (its scope shows nothing meanwhile: this is the answer, not the protection).
    const required = fresh.consentRequired;
    if (required && !allowedBeforeConsent(res.req.method, res.req.path, required)) throw consentRequiredError(required, fhirBase);
    return repoOf(res);
  };
  const capability = withPortalPolicy(
    buildCapabilityStatement(
      config.baseUrl,
      deps.operations.map((op) => op.info),
      deps.version,
    ),
    agePolicyByName(config.agePolicy),
    portalConsentRequired(config),
  );
  const fhirBase = `${config.baseUrl}/fhir`;

  // Resources are served as FHIR JSON only: a client asking for something else (FHIR XML, say) is told so with a
  // 406 rather than handed JSON it did not ask for. Operations pick their own formats ($ccda's _format=xml is the
  // C-CDA), and a Binary is served as its own content type.
  router.use((req, _res, next) => {
    if (req.path.includes('$') || /^\/(Binary|bulk-export)(\/|$)/.test(req.path)) return next();
    const refused = unacceptableFormat(req);
    next(refused ? notAcceptable(refused) : undefined);
  });

  router.get('/metadata', (_req, res) => {
    res.type(FHIR_JSON).send(JSON.stringify(capability));
  });

  router.post(
    '/',
    json,
    asyncHandler(async (req, res) => {
      requireJsonBody(req);
      const result = await writeGate.run(() => processBundle(repoOf(res), req.body as Bundle));
      sendResource(res, 200, result);
    }),
  );

  // System-level operations: POST /fhir/$import-ccda
  router.all('/:operation', (req, res, next) => {
    if (!req.params.operation.startsWith('$')) return next();
    const op = findOperation(deps.operations, 'system', undefined, req.params.operation);
    return runOperation(op, req, res, next, { json, xml, raw }, repoOf, writeGate);
  });

  // Bulk Data: an export's status, cancel and files (the kick-off is the $export operation).
  router.use('/bulk-export', bulkExportRouter(repoOf));

  // Every type's history, newest first, paged, from _since (src/fhir/history-feed.ts).
  router.get(
    '/_history',
    asyncHandler(async (req, res) => {
      sendResource(res, 200, await historyFeed(repoOf(res), undefined, queryOf(req), `${fhirBase}/_history`));
    }),
  );

  router.get(
    '/:type',
    asyncHandler(async (req, res) => {
      const links = { url: `${fhirBase}/${req.params.type}`, params: linkParams(queryOf(req)) };
      // Parsed inside: a caller taken on trust that may no longer act gets its 401, not the 400 of a bad query.
      const text = await readAsCaller(res, (repo) => repo.searchText(parseSearch(req.params.type, queryOf(req)), links));
      sendJsonText(res, text);
    }),
  );

  router.post(
    '/:type/_search',
    form,
    asyncHandler(async (req, res) => {
      // The URL's parameters and the form's together, every repetition of each kept (both are ANDed, as in a GET).
      const params = searchParams(queryOf(req), (req.body ?? {}) as QueryParams);
      const request = parseSearch(req.params.type, params.toString());
      const links = { url: `${fhirBase}/${req.params.type}`, params: linkParams(params) };
      sendJsonText(res, await repoOf(res).searchText(request, links));
    }),
  );

  router.get(
    '/:type/_history',
    asyncHandler(async (req, res) => {
      sendResource(res, 200, await historyFeed(repoOf(res), req.params.type, queryOf(req), `${fhirBase}/${req.params.type}/_history`));
    }),
  );

  router.post('/:type', (req, res, next) => {
    const upload = req.params.type === 'Binary' && !isFhirJson(req);
    const parser = upload ? passBody : json;
    parser(req, res, (err?: unknown) => {
      if (err) return next(err);
      asyncHandler(async () => {
        const repo = repoOf(res);
        const content = upload ? await receiveContent(req, repo.uploadLimits()) : undefined;
        const body = upload ? binaryFromHeaders(req) : requireJsonBody(req);
        if (body.resourceType !== req.params.type) {
          throw badRequest(`The body is a ${body.resourceType} but the URL is for ${req.params.type}`, 'resourceType');
        }
        const ifNoneExist = header(req, 'if-none-exist');
        const { resource, created } = await repo.create(body, { ifNoneExist, content, filename: upload ? uploadFilename(req) : undefined });
        sendWritten(res, header(req, 'prefer'), created ? 201 : 200, resource, {
          location: `${fhirBase}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`,
        });
      })(req, res, next);
    });
  });

  // Type-level operations (GET /fhir/DocumentReference/$docref) and reads.
  router.get('/:type/:id', (req, res, next) => {
    if (req.params.id.startsWith('$')) {
      const op = findOperation(deps.operations, 'type', req.params.type, req.params.id);
      return runOperation(op, req, res, next, { json, xml, raw }, repoOf, writeGate);
    }
    asyncHandler(async () => {
      if (req.params.type === 'Binary') {
        const stored = await readAsCaller(res, (repo) => repo.readStored('Binary', req.params.id));
        await (wantsFhirJson(req) ? sendBinaryJson : sendBinaryContent)(req, res, repoOf(res), stored);
        return;
      }
      sendStored(res, await readAsCaller(res, (repo) => repo.readStored(req.params.type, req.params.id)));
    })(req, res, next);
  });

  router.post('/:type/:id', (req, res, next) => {
    if (!req.params.id.startsWith('$')) return next(methodNotAllowed('POST to a resource id is not an interaction; use PUT to update'));
    const op = findOperation(deps.operations, 'type', req.params.type, req.params.id);
    return runOperation(op, req, res, next, { json, xml, raw }, repoOf, writeGate);
  });

  router.put('/:type/:id', (req, res, next) => {
    const upload = req.params.type === 'Binary' && !isFhirJson(req);
    const parser = upload ? passBody : json;
    parser(req, res, (err?: unknown) => {
      if (err) return next(err);
      asyncHandler(async () => {
        const repo = repoOf(res);
        const content = upload ? await receiveContent(req, repo.uploadLimits()) : undefined;
        const body = upload ? { ...binaryFromHeaders(req), id: req.params.id } : requireJsonBody(req);
        if (body.resourceType !== req.params.type) {
          throw badRequest(`The body is a ${body.resourceType} but the URL is for ${req.params.type}`, 'resourceType');
        }
        if (body.id !== req.params.id)
          throw badRequest(`The body's id "${body.id ?? ''}" does not match the URL's id "${req.params.id}"`, `${body.resourceType}.id`);
        const { resource, created, unchanged } = await repo.update(body, {
          ifMatch: header(req, 'if-match'),
          content,
          filename: upload ? uploadFilename(req) : undefined,
        });
        const location = created
          ? { location: `${fhirBase}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}` }
          : {};
        sendWritten(res, header(req, 'prefer'), created ? 201 : 200, resource, { ...location, unchanged });
      })(req, res, next);
    });
  });

  router.delete(
    '/:type/:id',
    asyncHandler(async (req, res) => {
      await repoOf(res).delete(req.params.type, req.params.id, { ifMatch: header(req, 'if-match') });
      res.status(204).end();
    }),
  );

  router.get(
    '/:type/:id/_history',
    asyncHandler(async (req, res) => {
      sendResource(res, 200, await repoOf(res).history(req.params.type, req.params.id, historyOptions(req)));
    }),
  );

  router.get(
    '/:type/:id/_history/:versionId',
    asyncHandler(async (req, res) => {
      checkVersionId(req.params.versionId);
      const stored = await repoOf(res).vread(req.params.type, req.params.id, req.params.versionId);
      if (req.params.type === 'Binary') return (wantsFhirJson(req) ? sendBinaryJson : sendBinaryContent)(req, res, repoOf(res), stored);
      sendStored(res, stored);
    }),
  );

  router.all('/:type/:id/:operation', (req, res, next) => {
    if (!req.params.operation.startsWith('$')) return next(notFound('Endpoint'));
    const op = findOperation(deps.operations, 'instance', req.params.type, req.params.operation);
    return runOperation(op, req, res, next, { json, xml, raw }, repoOf, writeGate, req.params.id);
  });

  // Interactions the CapabilityStatement does not offer: 405 with what to do instead, not a 404 for the URL.
  router.patch('/:type/:id', (_req, _res, next) => next(methodNotAllowed('PATCH is not supported: PUT the whole resource')));
  router.put('/:type', (_req, _res, next) =>
    next(methodNotAllowed('Conditional update is not supported: search, then PUT the resource by its id')),
  );
  router.delete('/:type', (_req, _res, next) =>
    next(methodNotAllowed('Conditional delete is not supported: search, then DELETE each resource by its id')),
  );

  router.use((_req, _res, next) => next(notFound('Endpoint')));
  return router;
}

type Parsers = { json: express.RequestHandler; xml: express.RequestHandler; raw: express.RequestHandler };

function findOperation(
  operations: readonly FhirOperation[],
  level: FhirOperation['level'],
  type: string | undefined,
  name: string,
): FhirOperation {
  const bare = name.slice(1);
  const op = operations.find((o) => o.level === level && o.info.name === bare && (level === 'system' || o.info.resourceType === type));
  if (!op) throw notFound(`Operation ${type ? type + '/' : ''}${name}`);
  return op;
}

function runOperation(
  op: FhirOperation,
  req: Request,
  res: Response,
  next: express.NextFunction,
  parsers: Parsers,
  repoOf: (res: Response) => Repository,
  writeGate: WriteGate,
  id?: string,
): void {
  if (!op.methods.includes(req.method as 'GET')) return next(methodNotAllowed(`$${op.info.name} takes ${op.methods.join(' or ')}`));
  const parser = req.method === 'GET' ? undefined : op.body === 'xml' ? parsers.xml : op.body === 'raw' ? parsers.raw : parsers.json;
  const run = asyncHandler(async () => {
    const body: unknown = req.body;
    const params = operationParams(
      { name: op.info.name, repeatable: op.repeatable },
      queryOf(req),
      op.body !== 'xml' && op.body !== 'raw' ? body : undefined,
    );
    const handle = (context: OperationContext) => (op.heavyWrite ? writeGate.run(() => op.handle(context)) : op.handle(context));
    const result = await handle({
      repo: repoOf(res),
      caller: res.locals.caller as Caller,
      id,
      params,
      body: Buffer.isBuffer(body) ? body : body && Object.keys(body).length ? body : undefined,
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
    });
    sendOperationResult(res, result);
  });
  if (!parser) return run(req, res, next);
  parser(req, res, (err?: unknown) => (err ? next(err) : run(req, res, next)));
}

function sendOperationResult(res: Response, result: OperationResult): void {
  if (result.kind === 'resource') return sendResource(res, result.status ?? 200, result.resource);
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v);
  res
    .status(result.status ?? 200)
    .type(result.contentType)
    .send(typeof result.body === 'string' ? result.body : Buffer.from(result.body));
}

function requireJsonBody(req: Request): Resource {
  const type = contentTypeOf(req);
  if (type && !FHIR_TYPES.includes(type))
    throw unsupportedMediaType(`The body must be FHIR JSON (Content-Type: application/fhir+json), not ${type}`);
  const body: unknown = req.body;
  if (!type || body === undefined) throw badRequest('The body must be FHIR JSON (Content-Type: application/fhir+json)');
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw badRequest('The body must be a JSON object holding one FHIR resource');
  if (!('resourceType' in body) || typeof body.resourceType !== 'string')
    throw badRequest('The body holds no resource: a FHIR resource names its resourceType', 'resourceType');
  return body as Resource;
}

function isFhirJson(req: Request): boolean {
  return FHIR_TYPES.includes(contentTypeOf(req));
}

/** The request's media type, lower case, without parameters ('' when there is none). */
function contentTypeOf(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

/** What the request asks for that is not JSON (its `_format`, or an Accept header with no JSON type), if anything. */
export function unacceptableFormat(req: Request): string | undefined {
  const formats = queryValues(queryOf(req), '_format');
  if (formats.length) {
    const value = formats.join(',');
    return /^\s*(json|application\/json|application\/fhir\+json)\s*(;.*)?$/i.test(value) ? undefined : `_format=${value}`;
  }
  const accept = req.headers.accept;
  if (!accept?.trim()) return undefined;
  const types = accept.split(',').map((part) => part.split(';')[0].trim().toLowerCase());
  const json = types.some(
    (type) =>
      type === '*/*' ||
      type === 'application/*' ||
      type === 'application/json' ||
      type === 'application/fhir+json' ||
      type.endsWith('+json'),
  );
  return json ? undefined : `Accept: ${accept}`;
}

function wantsFhirJson(req: Request): boolean {
  if (queryValues(queryOf(req), '_format').some((format) => /json/.test(format))) return true;
  return /application\/(fhir\+)?json/.test(req.headers.accept ?? '');
}

/** A raw upload's body is read by receiveContent, as it arrives: no parser buffers it first. */
const passBody: express.RequestHandler = (_req, _res, next) => next();

/** The Binary a raw upload describes by its headers: Content-Type and X-Security-Context. */
function binaryFromHeaders(req: Request): Binary {
  const contentType = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0].trim();
  const securityContext = header(req, 'x-security-context');
  return { resourceType: 'Binary', contentType, ...(securityContext ? { securityContext: { reference: securityContext } } : {}) };
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Every parameter of these queries, in order, each repetition kept. */
function searchParams(...queries: QueryParams[]): URLSearchParams {
  const params = new URLSearchParams();
  for (const query of queries)
    for (const name of Object.keys(query)) for (const value of queryValues(query, name)) params.append(name, value);
  return params;
}

/** A search's parameters as its paging links repeat them (the page's own `_offset` is the link's to set). */
function linkParams(query: QueryParams | URLSearchParams): URLSearchParams {
  const params = query instanceof URLSearchParams ? new URLSearchParams(query) : searchParams(query);
  params.delete('_offset');
  return params;
}

/**
 * Throws 400 unless a version id in a URL is a version number as this server writes them (1 to 999999999): a
 * number past what the version column holds was a 500 from the database.
 */
export function checkVersionId(versionId: string): void {
  if (!/^[1-9]\d{0,8}$/.test(versionId))
    throw badRequest(`A version id is a whole number from 1 to 999999999, got "${versionId.slice(0, 40)}"`);
}

function historyOptions(req: Request): { since?: string; count?: number } {
  const query = queryOf(req);
  const [raw, ...moreCounts] = queryValues(query, '_count');
  if (moreCounts.length) throw badRequest('_count may be given once', '_count');
  if (raw !== undefined && (!/^\d{1,20}$/.test(raw) || Number(raw) < 1)) throw badRequest('_count must be a positive integer', '_count');
  const [since, ...moreSinces] = queryValues(query, '_since');
  // A repeated _since was ignored (a history from the start): it is refused, as in the type and system histories.
  if (moreSinces.length) throw badRequest('_since may be given once', '_since');
  return { since, count: raw === undefined ? undefined : Number(raw) };
}
