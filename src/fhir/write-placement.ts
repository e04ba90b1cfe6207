/**
 * Whose record a write belongs to when its own links do not say (src/access/record-owners.ts): a Binary, placed by
 * the resource its securityContext names, and what staff of an organisation write outside every patient's record.
 * The repository calls these before it checks the write, so the checks judge the place the version will have.
 */
import type { Resource } from '@medplum/fhirtypes';
import { type Kysely, sql } from 'kysely';
import type { AccessScope } from '../access/access-scope';
import { isUploaderOwner, uploaderOwner } from '../access/record-owners';
import { visibilityCondition } from '../access/visibility';
import type { Tables } from '../db/tables';
import { isSupportedType } from './definitions';
import { badRequest, conflict, forbidden } from './outcomes';
import { type PlacedBy, prepareWrite, type PreparedWrite } from './resource-writer';

/** The stored version a write replaces, as the write checks see it (for a create under the client's id: no resource). */
export interface Replaced {
  readonly resource?: Resource;
  readonly owners: readonly string[];
  /** The writer named the version it replaces (If-Match). */
  readonly versionChecked?: boolean;
}

const REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * Where a Binary belongs: with the resource its securityContext names (a Patient: that patient's record), which the
 * caller must see and may write to (the repository checks the write against this place); without one, or with one
 * outside every record, it is kept for the uploading organisation alone (uploaded by the operator, for nobody else).
 * An update keeps the organisation that uploaded it. Undefined for other types.
 */
export async function binaryPlace(
  db: Kysely<Tables>,
  scope: AccessScope,
  resource: Resource,
  batch: readonly Resource[],
  replaced?: Replaced,
): Promise<PlacedBy | undefined> {
  if (resource.resourceType !== 'Binary') return undefined;
  const context = resource.securityContext?.reference;
  const found = context === undefined ? { compartments: [], owners: [] } : await securityContextPlace(db, scope, context, batch);
  if (found.owners.length) return found;
  return { compartments: found.compartments, owners: [...(uploaderKept(replaced) ?? [uploaderOwner(scope.organizationId)])] };
}

/**
 * Staff of an organisation who write a resource outside every patient's record (an authoring Device of an imported
 * document) keep it for their organisation, as they keep files: other organisations do not see it. Shared reference
 * types (Practitioner, Organization...) stay everyone's, and so does what the operator left outside every record.
 */
export function keptForOrganization(scope: AccessScope, write: PreparedWrite, replaced?: Replaced): PreparedWrite {
  const { organizationId, sharedTypes } = scope;
  const type = write.resource.resourceType;
  if (organizationId === undefined || write.owners.length || sharedTypes.has(type) || type === 'Patient') return write;
  if (replaced?.resource && !replaced.owners.length) return write;
  return { ...write, owners: [...(uploaderKept(replaced) ?? [uploaderOwner(organizationId)])] };
}

/** The organisation a replaced version was kept for, if it was kept for one. */
function uploaderKept(replaced?: Replaced): readonly string[] | undefined {
  return replaced?.owners.length === 1 && isUploaderOwner(replaced.owners[0]) ? replaced.owners : undefined;
}

/**
 * The place of the resource a securityContext names. One the caller cannot see, and one that does not exist, get the
 * same answer (403), so a file's context cannot be used to learn what exists; only to callers who see everything is
 * a missing one a 409.
 */
async function securityContextPlace(
  db: Kysely<Tables>,
  scope: AccessScope,
  reference: string,
  batch: readonly Resource[],
): Promise<{ compartments: string[]; owners: string[] }> {
  const match = REFERENCE.exec(reference);
  if (!match || !isSupportedType(match[1])) {
    throw badRequest(`Binary.securityContext must name a resource as Type/id, got "${reference}"`, 'Binary.securityContext');
  }
  const [, type, id] = match;
  const inBatch = batch.find((r) => r.resourceType === type && r.id === id);
  if (inBatch) {
    const { compartments, owners } = prepareWrite(inBatch as Resource & { id: string }, 1, new Date(0));
    return type === 'Patient' ? { compartments: [id], owners } : { compartments, owners };
  }
  const visible = visibilityCondition(scope, type);
  const { rows } = await sql<{ compartments: string[]; owners: string[] }>`select r.compartments, r.owners from resource r
    where r.resource_type = ${type} and r.id = ${id} and not r.deleted${visible ? sql` and ${visible}` : sql``}`.execute(db);
  if (!rows.length) {
    if (scope.unrestricted) throw conflict(`Binary.securityContext names ${reference}, which does not exist`);
    throw forbidden(`You may not attach a file to ${reference}`);
  }
  return type === 'Patient' ? { compartments: [id], owners: [id] } : rows[0];
}
