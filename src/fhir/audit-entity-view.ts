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

/** Every `"reference"` member of JSON text without escapes, its value captured when it is a string. */
const REFERENCE_MEMBER = /"reference"\s*:\s*(?:"([^"]*)")?/g;

/** Whether any of these resources is an AuditEvent whose entities must be checked for this caller. */
export function needsEntityCheck(scope: AccessScope, resources: readonly Resource[]): boolean {
  return !scope.unrestricted && resources.some((r) => r.resourceType === 'AuditEvent');
}

/** The resources with every AuditEvent's entities cut down to what the caller may see (one query in all). */
export async function withVisibleEntities<T extends Resource>(
  db: Kysely<Tables>,
  scope: AccessScope,
  resources: readonly T[],
): Promise<T[]> {
  if (!needsEntityCheck(scope, resources)) return [...resources];
  const references: string[] = [];
  for (const resource of resources) {
    if (resource.resourceType !== 'AuditEvent') continue;
    // tsc does not narrow the generic T through the `continue` above (the rule thinks it does).
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    for (const entity of (resource as AuditEvent).entity ?? []) {
      if (entity.what?.reference !== undefined) references.push(entity.what.reference);
    }
  }
  const visible = await visibleReferences(db, scope, references);
  return resources.map((resource) => shownTo(scope, visible, resource));
}

/**
 * The stored JSON of AuditEvents as the caller may read them, each as stored when every resource it names is one the
 * caller may see (as a patient's activity history mostly is: no parsing, nothing written again), else with the
 * entities they may not see cut down to their type. One query for the whole page.
 */
export async function visibleEntityTexts(db: Kysely<Tables>, scope: AccessScope, contents: readonly string[]): Promise<string[]> {
  if (scope.unrestricted || !contents.length) return [...contents];
  // Read from the text where that is certain; otherwise (an escape, a reference that is not text) parsed.
  const named = contents.map(referencesInText);
  const parsed = contents.map((content, i) => (named[i] ? undefined : (JSON.parse(content) as Resource)));
  const references: string[] = [];
  named.forEach((list, i) => {
    if (list) references.push(...list);
    else
      for (const entity of (parsed[i] as AuditEvent).entity ?? [])
        if (entity.what?.reference !== undefined) references.push(entity.what.reference);
  });
  const visible = await visibleReferences(db, scope, references);
  // An event names the same resources as many others on its page (a chart read again and again): judged once each.
  const judged = new Map<string, boolean>();
  const whole = (reference: string): boolean => {
    let known = judged.get(reference);
    if (known === undefined) judged.set(reference, (known = shownWhole(scope, visible, reference)));
    return known;
  };
  return contents.map((content, i) => {
    const list = named[i];
    // Every reference in the text is one the caller may see, so no entity would change: the stored JSON as it is.
    if (list?.every(whole)) return content;
    return JSON.stringify(shownTo(scope, visible, parsed[i] ?? (JSON.parse(content) as Resource)));
  });
}

/**
 * The values of every `"reference"` member of stored JSON text, or undefined when the text cannot be read that way
 * for certain: any escape (which could spell a member's name otherwise, or hide a quote in a value) or a reference
 * that is not a string. A text read this way names no reference the list leaves out.
 */
function referencesInText(content: string): string[] | undefined {
  if (content.includes('\\')) return undefined;
  const values: string[] = [];
  for (const match of content.matchAll(REFERENCE_MEMBER)) {
    if (match[1] === undefined) return undefined;
    values.push(match[1]);
  }
  return values;
}

/** Whether an entity naming `reference` is shown as it is (shared types, and what the caller may see). */
function shownWhole(scope: AccessScope, visible: ReadonlySet<string>, reference: string): boolean {
  const match = REFERENCE.exec(reference);
  return !!match && (scope.sharedTypes.has(match[1]) || visible.has(reference));
}

/** An AuditEvent with the entities the caller may not see cut down to their type; any other resource as it is. */
function shownTo<T extends Resource>(scope: AccessScope, visible: ReadonlySet<string>, resource: T): T {
  // The rule sees `resource` narrowed to AuditEvent here, but tsc does not narrow the generic T; both assertions are needed.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const entities = resource.resourceType === 'AuditEvent' ? (resource as AuditEvent).entity : undefined;
  if (!entities) return resource;
  const shown = (entity: AuditEventEntity): AuditEventEntity => {
    const reference = entity.what?.reference;
    if (reference === undefined || shownWhole(scope, visible, reference)) return entity;
    const match = REFERENCE.exec(reference);
    const { reference: _hidden, ...what } = entity.what ?? {};
    return { ...entity, what: { ...what, ...(match ? { type: match[1] as Resource['resourceType'] } : {}) } };
  };
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  return { ...resource, entity: entities.map(shown) } as T;
}

/**
 * Which of `references` name resources the caller may see, as "Type/id": one statement, a branch per type named (each
 * with that type's own visibility condition), every row found by its primary key.
 */
async function visibleReferences(db: Kysely<Tables>, scope: AccessScope, references: readonly string[]): Promise<Set<string>> {
  const wanted = new Map<string, Set<string>>();
  for (const reference of new Set(references)) {
    const match = REFERENCE.exec(reference);
    if (match && isSupportedType(match[1]) && !scope.sharedTypes.has(match[1])) {
      wanted.set(match[1], (wanted.get(match[1]) ?? new Set()).add(match[2]));
    }
  }
  if (!wanted.size) return new Set();
  const branches = [...wanted].map(([type, ids]) => {
    const condition = visibilityCondition(scope, type);
    return sql`(select ${type}::text as type, r.id from resource r
      where r.resource_type = ${type} and r.id = any(${[...ids]}::text[])${condition ? sql` and ${condition}` : sql``})`;
  });
  const { rows } = await sql<{ type: string; id: string }>`${sql.join(branches, sql` union all `)}`.execute(db);
  return new Set(rows.map((row) => `${row.type}/${row.id}`));
}
