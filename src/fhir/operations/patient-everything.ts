import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { visibilityConditionAnyType } from '../../access/visibility';
import { dateRange } from '../search/date-range';
import { badRequest } from '../outcomes';
import type { Repository } from '../repository';

/** The parameters of Patient/$everything. */
export interface EverythingParams {
  /** Care dates from (inclusive); resources without any clinical date are always included. */
  readonly start?: string;
  /** Care dates to (inclusive). */
  readonly end?: string;
  /** Only resources changed at or after this instant. */
  readonly since?: string;
  /** Only the record's resources of these types (a C-CDA reads its sections' types, not the messages). */
  readonly types?: readonly string[];
}

/**
 * Patient/$everything: the patient, everything of their record the caller may see, and the practitioners,
 * organizations, locations and medications those resources reference. The record is what belongs to the patient
 * (src/access/record-owners.ts): another patient's Condition that names this one as its asserter is in that other
 * patient's record, found by search (`Condition?asserter=`) by those who may see it, not here, where it would read as
 * this patient's own (and so go out in their C-CDA). The activity log (AuditEvent) is not part of the record it
 * logs. Audited as one access per patient.
 */
export async function patientEverything(repo: Repository, patientId: string, params: EverythingParams = {}): Promise<Bundle> {
  return repo.asOperation('$everything', () => everything(repo, patientId, params));
}

async function everything(repo: Repository, patientId: string, params: EverythingParams): Promise<Bundle> {
  const patient = await repo.read<Patient>('Patient', patientId);
  const start = params.start ? checkedRange(params.start, 'start').low : undefined;
  const end = params.end ? checkedRange(params.end, 'end').high : undefined;
  if (start && end && start > end) throw badRequest('start must not be after end', 'start');
  const since = params.since ? checkedRange(params.since, 'since').low : undefined;
  const resources = await compartmentResources(repo, patientId, { start, end, since, types: params.types });
  const shared = await referencedSharedResources(repo, resources);
  const all = [patient, ...resources, ...shared];
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: all.length,
    entry: all.map((resource) => ({
      fullUrl: `${repo.context.fhirBase}/${resource.resourceType}/${resource.id}`,
      resource,
      search: { mode: 'match' },
    })),
  };
}

function checkedRange(value: string, name: string) {
  const range = dateRange(value);
  if (!range) throw badRequest(`${name} must be a FHIR date, got "${value}"`, name);
  return range;
}

async function compartmentResources(
  repo: Repository,
  patientId: string,
  { start, end, since, types }: EverythingParams,
): Promise<Resource[]> {
  const dated =
    start || end
      ? sql`and (not exists (select 1 from search_date d where d.resource_id = r.id and d.resource_type = r.resource_type)
          or exists (select 1 from search_date d where d.resource_id = r.id and d.resource_type = r.resource_type
            ${start ? sql`and d.high >= ${start}::timestamptz` : sql``} ${end ? sql`and d.low <= ${end}::timestamptz` : sql``}))`
      : sql``;
  const changed = since ? sql`and r.last_updated >= ${since}::timestamptz` : sql``;
  const ofTypes = types ? sql`and r.resource_type = any(${types}::text[])` : sql``;
  const scope = repo.context.scope;
  // The one query over the whole record needs the access rule (and the release rule) for every type at once.
  const visible = visibilityConditionAnyType(scope);
  const { rows } = await sql<{ resource_type: string; id: string; compartments: string[]; content: string }>`
    select r.resource_type, r.id, r.compartments, r.content from resource r
    where r.owners @> array[${patientId}]::text[] and r.deleted = false and r.resource_type not in ('Patient', 'AuditEvent')
    ${dated} ${changed} ${ofTypes} ${visible ? sql`and ${visible}` : sql``}
    order by r.resource_type, r.last_updated`.execute(repo.db);
  repo.noteServed(rows.map((row) => ({ type: row.resource_type, id: row.id, compartments: row.compartments })));
  return rows.map((row) => scope.present(JSON.parse(row.content) as Resource));
}

async function referencedSharedResources(repo: Repository, resources: Resource[]): Promise<Resource[]> {
  if (!resources.length) return [];
  const ids = resources.map((r) => r.id as string);
  const types = ['Practitioner', 'PractitionerRole', 'Organization', 'Location', 'Medication', 'Device'];
  const { rows } = await sql<{ content: string; resource_type: string; id: string; compartments: string[] }>`
    select r.resource_type, r.id, r.compartments, r.content from resource r
    where r.deleted = false and r.resource_type = any(${types}::text[])
      and exists (select 1 from search_reference i where i.resource_id = any(${ids}::text[])
        and i.target_type = r.resource_type and i.target_id = r.id)`.execute(repo.db);
  const scope = repo.context.scope;
  const already = new Set(resources.map((r) => `${r.resourceType}/${r.id}`));
  return rows
    .filter((row) => !already.has(`${row.resource_type}/${row.id}`) && (scope.unrestricted || scope.sharedTypes.has(row.resource_type)))
    .map((row) => scope.present(JSON.parse(row.content) as Resource));
}
