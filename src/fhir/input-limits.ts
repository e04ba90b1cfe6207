/**
 * Input refused where it enters (request bodies, search parameters, import files), before any code that could
 * not cope with it sees it: JSON nested deeper than any real FHIR content, which the recursive walks of the
 * validator, FHIRPath and indexing would overflow the stack on (a 500), text holding a NUL character, which
 * PostgreSQL cannot store in text or jsonb (a 500 from the database) and FHIR does not allow in a string, and keys
 * that name a property every JavaScript object inherits (`__proto__`, `constructor`, `toString`...), which a lookup
 * in a plain object finds where an unknown key should find nothing. Strings that are not valid Unicode (a lone UTF-16
 * surrogate, `\ud800`) are refused too: FHIR strings are Unicode, PostgreSQL's jsonb refuses them (so one stored would
 * break every query that reads the resource as jsonb) and no XML document can hold one.
 */
import { badRequest, type FhirError } from './outcomes';

/**
 * The deepest JSON nesting taken (an object or array inside another counts one level). Real FHIR stays far below:
 * a Questionnaire whose items nest ten deep is about 25 levels.
 */
export const MAX_JSON_DEPTH = 100;

/** One object or array still to be walked, with where it sits (kept to name a NUL's place only when there is one). */
interface Container {
  readonly value: object;
  readonly depth: number;
  readonly parent?: Container;
  readonly key?: string | number;
}

/**
 * True for a name every plain object answers without holding it (`__proto__`, `constructor`, `toString`,
 * `hasOwnProperty`...): no FHIR element, search parameter, modifier or field of ours is named so.
 */
export function isInheritedKey(key: string): boolean {
  return key in Object.prototype;
}

/**
 * Throws 400 when parsed JSON nests deeper than MAX_JSON_DEPTH, holds a NUL in any string or key, or has a key that
 * names an inherited property (see isInheritedKey): refused as any other unknown key is.
 */
export function checkJsonInput(json: unknown): void {
  if (typeof json === 'string') return checkText(json);
  if (typeof json !== 'object' || json === null) return;
  // An explicit stack, not recursion: the point is to survive input nested far deeper than the call stack.
  const stack: Container[] = [{ value: json, depth: 1 }];
  for (let container = stack.pop(); container; container = stack.pop()) {
    const { value, depth } = container;
    const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
    for (const key of keys) {
      if (typeof key === 'string' && key.includes('\0')) throw nulCharacter(pathOf(container, key));
      if (typeof key === 'string' && isInheritedKey(key)) throw inheritedKey(pathOf(container, key), key);
      if (typeof key === 'string' && !isWellFormed(key)) throw loneSurrogate(pathOf(container, key));
      const item = (value as Record<string | number, unknown>)[key];
      if (typeof item === 'string') {
        if (item.includes('\0')) throw nulCharacter(pathOf(container, key));
        if (!isWellFormed(item)) throw loneSurrogate(pathOf(container, key));
      } else if (typeof item === 'object' && item !== null) {
        if (depth >= MAX_JSON_DEPTH) throw tooDeep();
        stack.push({ value: item, depth: depth + 1, parent: container, key });
      }
    }
  }
}

/** Throws 400 when a text (a search parameter's name or value, say) holds a NUL character or a lone surrogate. */
export function checkText(text: string, expression?: string): void {
  if (text.includes('\0')) throw nulCharacter(expression);
  if (!isWellFormed(text)) throw loneSurrogate(expression);
}

/** True when a string is valid Unicode: no UTF-16 surrogate without its pair (String.prototype.isWellFormed, Node 20). */
export function isWellFormed(text: string): boolean {
  return text.isWellFormed();
}

/** The message of a lone surrogate, wherever it is refused. */
export const LONE_SURROGATE = 'Text must be valid Unicode: it holds a lone surrogate (a UTF-16 code unit \\uD800-\\uDFFF without its pair)';

function loneSurrogate(expression: string | undefined): FhirError {
  return badRequest(LONE_SURROGATE, expression);
}

function tooDeep(): FhirError {
  return badRequest(`The JSON is nested too deeply (more than ${MAX_JSON_DEPTH} levels)`, undefined, 'structure');
}

function inheritedKey(expression: string, key: string): FhirError {
  return badRequest(`Invalid additional property "${key}"`, expression, 'structure');
}

function nulCharacter(expression: string | undefined): FhirError {
  return badRequest('Text may not contain a NUL character (\\u0000)', expression);
}

/** Where a value sits, FHIRPath-style: `Patient.name[0].family` in a resource, `email` in other JSON. */
function pathOf(container: Container, key: string | number): string {
  const steps: (string | number)[] = [key];
  let root = container;
  for (let c: Container | undefined = container; c?.parent; c = c.parent) {
    steps.unshift(c.key as string | number);
    root = c.parent;
  }
  const resourceType = (root.value as { resourceType?: unknown }).resourceType;
  let path = typeof resourceType === 'string' && !Array.isArray(root.value) ? resourceType : '';
  for (const step of steps) path += typeof step === 'number' ? `[${step}]` : path ? `.${step}` : step;
  return path;
}
