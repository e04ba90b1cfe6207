import type { Resource } from '@medplum/fhirtypes';
import { Kysely, sql } from 'kysely';
import { uploaderOwner } from '../../access/record-owners';
import { loadFhirDefinitions } from '../../fhir/definitions';
import { placeOf } from '../../fhir/resource-writer';

/** History rows placed per statement while backfilling. */
const BATCH = 1000;

/**
 * Whose record each resource and each version belongs to (src/access/record-owners.ts). Access followed a resource's
 * current compartments: every patient a resource named, through any link, saw it whole, and every version in its
 * history was shown to whoever could see the current one, even versions filed in another patient's record. Now:
 * - `resource.owners`: the patients whose record it belongs to (its subject), which access follows; for a Binary,
 *   those of the resource its securityContext names, or `Organization/<id>` of the uploader for a file kept outside
 *   every record. Files uploaded outside every record before this migration have no known uploader: they become the
 *   operator's (`Organization/`), whom nothing is hidden from, until the operator gives them a securityContext.
 * - `resource_history.compartments` and `.owners`: each version's own, so each version is checked on its own.
 * - a Device naming a patient joins that patient's compartment (definitions.ts), so `resource.compartments` is
 *   written again from the current version too.
 * The backfill computes them from each stored version as a write would (index values of its references). The GIN
 * index on `resource.compartments` gives way to one on `owners`: access and `$everything` now ask for owners.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  loadFhirDefinitions();
  await sql`alter table resource add column owners text[] not null default '{}'`.execute(db);
  await sql`alter table resource_history add column compartments text[] not null default '{}', add column owners text[] not null default '{}'`.execute(
    db,
  );
  await placeLiveVersions(db);
  await sql`update resource r set owners = h.owners, compartments = h.compartments from resource_history h
    where h.resource_type = r.resource_type and h.id = r.id and h.version = r.version and not r.deleted and r.resource_type <> 'Binary'`.execute(
    db,
  );
  await placeBinaries(db);
  // A tombstone keeps the place of the version it ended, as a delete writes it.
  const previous = (column: string) => sql`(select p.${sql.raw(column)} from resource_history p
    where p.resource_type = h.resource_type and p.id = h.id and p.version < h.version and not p.deleted order by p.version desc limit 1)`;
  await sql`update resource_history h set compartments = coalesce(${previous('compartments')}, '{}'), owners = coalesce(${previous('owners')}, '{}')
    where h.deleted`.execute(db);
  await sql`update resource r set owners = h.owners, compartments = h.compartments from resource_history h
    where h.resource_type = r.resource_type and h.id = r.id and h.version = r.version and (r.deleted or r.resource_type = 'Binary')`.execute(
    db,
  );
  await sql`create index resource_owners_idx on resource using gin (owners)`.execute(db);
  await sql`drop index resource_compartments_idx`.execute(db);
}

/** Every live version of every type but Binary, placed from its content, a batch at a time in key order. */
async function placeLiveVersions(db: Kysely<unknown>): Promise<void> {
  let after = { type: '', id: '', version: 0 };
  for (;;) {
    const { rows } = await sql<{ resource_type: string; id: string; version: number; content: string }>`
      select resource_type, id, version, content from resource_history
      where resource_type <> 'Binary' and not deleted and (resource_type, id, version) > (${after.type}, ${after.id}, ${after.version})
      order by resource_type, id, version limit ${BATCH}`.execute(db);
    if (!rows.length) return;
    const places = rows.map((row) => placeOf({ ...(JSON.parse(row.content) as Resource), id: row.id }));
    await sql`update resource_history h set compartments = array(select json_array_elements_text(x.c::json)), owners = array(select json_array_elements_text(x.o::json))
      from unnest(${rows.map((r) => r.resource_type)}::text[], ${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.version)}::int[],
        ${places.map((p) => JSON.stringify(p.compartments))}::text[], ${places.map((p) => JSON.stringify(p.owners))}::text[]) as x(t, i, v, c, o)
      where h.resource_type = x.t and h.id = x.i and h.version = x.v`.execute(db);
    const last = rows[rows.length - 1];
    after = { type: last.resource_type, id: last.id, version: last.version };
  }
}

/** Every live Binary version: where the resource its securityContext names is (a Patient: that patient's record). */
async function placeBinaries(db: Kysely<unknown>): Promise<void> {
  await sql`update resource_history h
    set compartments = coalesce(case when b.ctx_type = 'Patient' then array[t.id] else t.compartments end, '{}'),
      owners = case when cardinality(t.owners) > 0 then t.owners else array[${uploaderOwner(undefined)}] end
    from (select resource_type, id, version, split_part(ref, '/', 1) as ctx_type, split_part(ref, '/', 2) as ctx_id
        from (select resource_type, id, version, (content::jsonb) #>> '{securityContext,reference}' as ref
          from resource_history where resource_type = 'Binary' and not deleted) refs) b
      left join resource t on t.resource_type = b.ctx_type and t.id = b.ctx_id and t.resource_type <> 'Binary'
    where h.resource_type = b.resource_type and h.id = b.id and h.version = b.version`.execute(db);
}

/** Drops what up() added, and brings back the compartments index. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index resource_compartments_idx on resource using gin (compartments)`.execute(db);
  await sql`drop index resource_owners_idx`.execute(db);
  await sql`alter table resource_history drop column compartments, drop column owners`.execute(db);
  await sql`alter table resource drop column owners`.execute(db);
}
