/**
 * The kick-off of a Bulk Data export (Bulk Data Access 2.0): `GET /fhir/$export`, `/fhir/Patient/$export` and
 * `/fhir/Group/{id}/$export`. It checks the request, keeps the requester's access, and queues the job
 * (export-queue.ts), whose status URL the client then polls. The export holds each resource as it was at the
 * kick-off (`transactionTime`), whatever is written while it runs.
 */
import { randomUUID } from 'node:crypto';
import type { Group } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import type { Caller } from '../../access/caller';
import { keptAccessOf } from '../../access/kept-access';
import { requestorAgent } from '../audit/audit-trail';
import { isSupportedType, SUPPORTED_TYPES } from '../definitions';
import { badRequest, forbidden, tooManyRequests } from '../outcomes';
import type { Repository } from '../repository';
import { storedAgentColumn } from './export-agent';
import { dateRange } from '../search/date-range';

/** Which resources an export covers: every type, the records of every patient, or of a Group's patients. */
export type ExportLevel = 'system' | 'patient' | 'group';

/** Limits of a kick-off. */
export const EXPORT_LIMITS = Object.freeze({
  /** Exports one requester may have queued or running at once (429 beyond). */
  activePerRequester: 3,
  /**
   * Exports one requester may keep: queued, running, or completed with files not yet expired (429 beyond, until they
   * delete one or the oldest expires). Failed exports, which hold no files, do not count.
   */
  keptPerRequester: 20,
  /** Patients a Group may hold to be exported. */
  groupMembers: 100_000,
});

/** The `_outputFormat` values meaning ndjson (the Bulk Data spec's abbreviations; `+` arrives as a space in a query). */
const NDJSON_FORMATS = new Set(['application/fhir+ndjson', 'application/fhir ndjson', 'application/ndjson', 'ndjson']);

/** Parameters of the Bulk Data spec this server does not offer: refused by name rather than ignored. */
const UNSUPPORTED = new Set(['_typeFilter', '_elements', 'patient', 'includeAssociatedData', 'organizeOutputBy', 'allowPartialManifests']);
const SUPPORTED_PARAMETERS = new Set(['_outputFormat', '_type', '_since']);

/** What the client asked for. */
export interface ExportRequest {
  readonly level: ExportLevel;
  /** The Group of a group export. */
  readonly groupId?: string;
  readonly params: Readonly<Record<string, string | undefined>>;
}

/** Queues an export for the repository's caller and answers its id (the status URL's last segment). */
export async function startExport(repo: Repository, caller: Caller, request: ExportRequest): Promise<string> {
  const access = caller.kind === 'user' ? undefined : keptAccessOf(repo.context.scope);
  if (!access) throw forbidden('Bulk export is for staff of a practice and backend services; a portal account cannot export records');
  const { types, since } = exportParameters(request.params, access.allowedTypes);
  const patientIds = request.level === 'group' ? await groupPatients(repo, request.groupId as string) : null;
  const now = repo.context.clock.now();
  const id = randomUUID();
  const requestUrl = kickoffUrl(repo.context.fhirBase, request);
  await repo.db.transaction().execute(async (trx) => {
    // One kick-off at a time per requester, so the count below cannot be passed by sending several at once.
    await sql`select pg_advisory_xact_lock(hashtextextended(${`export:${caller.subject}`}, 0))`.execute(trx);
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from export_job where requester = ${caller.subject} and status in ('queued', 'running')`.execute(trx);
    if ((rows[0]?.n ?? 0) >= EXPORT_LIMITS.activePerRequester)
      throw tooManyRequests(
        `You have ${EXPORT_LIMITS.activePerRequester} exports queued or running; wait for one to finish or cancel one (DELETE its status URL)`,
      );
    const { rows: kept } = await sql<{ n: number; oldest: Date | null }>`
      select count(*)::int as n, min(expires_at) as oldest from export_job
      where requester = ${caller.subject} and status <> 'failed' and (expires_at is null or expires_at > ${now})`.execute(trx);
    if ((kept[0]?.n ?? 0) >= EXPORT_LIMITS.keptPerRequester) {
      const oldest = kept[0].oldest ? `, or wait until ${new Date(kept[0].oldest).toISOString()}, when the oldest expires` : '';
      throw tooManyRequests(
        `You keep ${EXPORT_LIMITS.keptPerRequester} exports; delete one you have read (DELETE its status URL)${oldest}`,
      );
    }
    await trx
      .insertInto('export_job')
      .values({
        id,
        requester: caller.subject,
        agent: storedAgentColumn({ agent: requestorAgent(caller, repo.context.clock) ?? null, resourceFilters: access.resourceFilters }),
        unrestricted: access.unrestricted,
        organization_id: access.organizationId,
        allowed_types: access.allowedTypes ? [...access.allowedTypes] : null,
        level: request.level,
        group_id: request.groupId ?? null,
        patient_ids: patientIds,
        types,
        since: since ?? null,
        transaction_time: now,
        request_url: requestUrl,
        status: 'queued',
        error: null,
        next_attempt_at: now,
        lease_until: null,
        lease_token: null,
        finished_at: null,
        expires_at: null,
      })
      .execute();
  });
  return id;
}

function exportParameters(
  params: Readonly<Record<string, string | undefined>>,
  allowedTypes: readonly string[] | null,
): { types: string[]; since?: Date } {
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (UNSUPPORTED.has(name)) throw badRequest(`$export does not support ${name}`, name, 'not-supported');
    if (!SUPPORTED_PARAMETERS.has(name))
      throw badRequest(`Unknown parameter "${name.slice(0, 64)}" for $export: it takes _outputFormat, _type and _since`, name);
  }
  const format = params._outputFormat;
  if (format !== undefined && !NDJSON_FORMATS.has(format.trim()))
    throw badRequest(`_outputFormat must be application/fhir+ndjson (or ndjson), got "${format.slice(0, 64)}"`, '_outputFormat');
  let since: Date | undefined;
  if (params._since !== undefined) {
    const range = dateRange(params._since);
    if (!range || !/T/.test(params._since))
      throw badRequest(`_since must be a FHIR instant (2026-01-31T09:00:00Z), got "${params._since.slice(0, 64)}"`, '_since');
    since = new Date(range.low);
  }
  const everyType = SUPPORTED_TYPES.filter((type) => !allowedTypes || allowedTypes.includes(type));
  if (params._type === undefined) return { types: everyType, since };
  const named = [...new Set(params._type.split(',').map((type) => type.trim()))];
  if (named.length > SUPPORTED_TYPES.length) throw badRequest(`_type names at most ${SUPPORTED_TYPES.length} resource types`, '_type');
  for (const type of named) {
    if (!isSupportedType(type)) throw badRequest(`_type: unsupported resource type "${type.slice(0, 64)}"`, '_type');
    if (allowedTypes && !allowedTypes.includes(type)) throw forbidden(`_type: your access token's scopes do not include ${type}`);
  }
  return { types: named, since };
}

/** The ids of the patients a Group (which the caller must see) holds as active members. */
async function groupPatients(repo: Repository, groupId: string): Promise<string[]> {
  const group = await repo.read<Group>('Group', groupId);
  const members = (group.member ?? []).filter((member) => !member.inactive);
  if (members.length > EXPORT_LIMITS.groupMembers)
    throw badRequest(`A Group of more than ${EXPORT_LIMITS.groupMembers} members cannot be exported`, 'Group.member');
  const ids = new Set<string>();
  for (const member of members) {
    const match = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(member.entity?.reference ?? '');
    if (match) ids.add(match[1]);
  }
  return [...ids];
}

function kickoffUrl(fhirBase: string, request: ExportRequest): string {
  const path =
    request.level === 'system' ? '$export' : request.level === 'patient' ? 'Patient/$export' : `Group/${request.groupId}/$export`;
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(request.params)) if (value !== undefined) query.set(name, value);
  const text = query.toString();
  return `${fhirBase}/${path}${text ? `?${text}` : ''}`;
}
