/**
 * AuditEvents as a caller may read them. An access record names every resource touched, and the one a patient reads
 * in her activity history may name what she may not see: a document not yet released, a resource of another
 * patient's record that names her (a Condition she asserted). Such an entity is shown by its type alone, so the
 * history still says that something of that kind was read, but not which.
 */
import type { AuditEvent, AuditEventEntity, Resource } from '@medplum/fhirtypes';
import { type Kysely, sql } from 'kysely';
import type { AccessScope } from '../access/access-scope';
import { visibilityCondition } from '../access/visibility';
import type { Tables } from '../db/tables';
import { isSupportedType } from './definitions';

const REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/** Whether any of these resources is an AuditEvent whose entities must be checked for this caller. */
export function needsEntityCheck(scope: AccessScope, resources: readonly Resource[]): boolean {
  return !scope.unrestricted && resources.some((r) => r.resourceType === 'AuditEvent');
}

/** The resources with every AuditEvent's entities cut down to what the caller may see (one query per entity type). */
export async function withVisibleEntities<T extends Resource>(
  db: Kysely<Tables>,
  scope: AccessScope,
  resources: readonly T[],
): Promise<T[]> {
  if (!needsEntityCheck(scope, resources)) return [...resources];
  const wanted = new Map<string, Set<string>>();
  for (const resource of resources) {
    if (resource.resourceType !== 'AuditEvent') continue;
    // tsc does not narrow the generic T through the `continue` above (the rule thinks it does).
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    for (const entity of (resource as AuditEvent).entity ?? []) {
      const match = REFERENCE.exec(entity.what?.reference ?? '');
      if (match && isSupportedType(match[1]) && !scope.sharedTypes.has(match[1])) {
        wanted.set(match[1], (wanted.get(match[1]) ?? new Set()).add(match[2]));
      }
    }
  }
  const visible = new Set<string>();
  for (const [type, ids] of wanted) {
    const condition = visibilityCondition(scope, type);
    const { rows } = await sql<{ id: string }>`select r.id from resource r
      where r.resource_type = ${type} and r.id = any(${[...ids]}::text[])${condition ? sql` and ${condition}` : sql``}`.execute(db);
    for (const row of rows) visible.add(`${type}/${row.id}`);
  }
  const shown = (entity: AuditEventEntity): AuditEventEntity => {
    const reference = entity.what?.reference;
    if (reference === undefined) return entity;
    const match = REFERENCE.exec(reference);
    if (match && (scope.sharedTypes.has(match[1]) || visible.has(reference))) return entity;
    const { reference: _hidden, ...what } = entity.what ?? {};
    return { ...entity, what: { ...what, ...(match ? { type: match[1] as Resource['resourceType'] } : {}) } };
  };
  return resources.map((resource) => {
    // The rule sees `resource` narrowed to AuditEvent here, but tsc does not narrow the generic T; both assertions are needed.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    const entities = resource.resourceType === 'AuditEvent' ? (resource as AuditEvent).entity : undefined;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    return entities ? ({ ...resource, entity: entities.map(shown) } as T) : resource;
  });
}
