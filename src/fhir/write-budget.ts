/**
 * How much one resource may hold, checked before validation, which costs in proportion and runs on one thread: a
 * portal draft of 700,000 message parts (15 MB) took 10 s to validate and held 1.6 GB (issue 24 item 5). A portal
 * caller writes what a person types and attaches (a message of up to 10 files, a questionnaire's answers), far
 * below these; staff and systems (imports, interfaces) are trusted with larger resources, whose validation runs on
 * the worker pool instead (validate-for-write.ts).
 */
import { badRequest } from './outcomes';

/** The most items of any one list in a portal caller's resource. */
export const PORTAL_MAX_LIST_ITEMS = 1_000;

/** The most elements (objects, lists and values, at any depth) in a portal caller's resource. */
export const PORTAL_MAX_ELEMENTS = 25_000;

/**
 * Throws 400 when a portal caller's resource has a list longer than PORTAL_MAX_LIST_ITEMS (naming it) or more than
 * PORTAL_MAX_ELEMENTS elements. Stops at the first excess, so refusing costs no more than the limit.
 */
export function checkPortalBudget(resource: object): void {
  const type = (resource as { resourceType?: unknown }).resourceType;
  const stack: { value: unknown; path: string }[] = [{ value: resource, path: typeof type === 'string' ? type : '' }];
  let elements = 0;
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value, path } = item;
    if (++elements > PORTAL_MAX_ELEMENTS) {
      throw badRequest(`A resource written through the portal may hold at most ${PORTAL_MAX_ELEMENTS} elements`, undefined, 'too-costly');
    }
    if (Array.isArray(value)) {
      if (value.length > PORTAL_MAX_LIST_ITEMS) {
        throw badRequest(
          `A list in a resource written through the portal may hold at most ${PORTAL_MAX_LIST_ITEMS} items; this one has ${value.length}`,
          path,
          'too-costly',
        );
      }
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: `${path}[${i}]` });
    } else if (value && typeof value === 'object') {
      for (const key of Object.keys(value))
        stack.push({ value: (value as Record<string, unknown>)[key], path: path ? `${path}.${key}` : key });
    }
  }
}

/**
 * True when a resource's JSON would be at least `bytes` long, roughly (its strings and a few characters per
 * element); walks no further than it takes to tell, so a small resource costs a few microseconds.
 */
export function isAtLeast(resource: object, bytes: number): boolean {
  const stack: unknown[] = [resource];
  let size = 0;
  for (let value = stack.pop(); value !== undefined; value = stack.pop()) {
    if (typeof value === 'string') size += value.length + 3;
    else if (Array.isArray(value)) {
      size += 2;
      for (const v of value) stack.push(v);
    } else if (value && typeof value === 'object') {
      for (const key of Object.keys(value)) {
        size += key.length + 4;
        stack.push((value as Record<string, unknown>)[key]);
      }
    } else size += 6;
    if (size >= bytes) return true;
  }
  return false;
}
