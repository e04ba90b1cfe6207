/*
 * Adapted from @medplum/core 4.5 (src/fhirpath/utils.ts, getTypedPropertyValueWithSchema and
 * src/typeschema/crawler.ts, withPath), Copyright Orangebot, Inc. and Medplum contributors, Apache-2.0.
 *
 * Why a copy: the validator reads every element of every schema for every object, absent ones included,
 * and medplum builds each candidate JSON key on every read (`value[x]` has 11 types, so 22 strings for
 * one absent Observation.value). Here the keys are built once per schema element, and an absent
 * property costs a few property reads and no allocation. What a read returns, and what it does to the
 * resource (medplum merges a `_name` primitive extension into an object value in place), is unchanged.
 */
import { isEmpty, isResource, capitalize } from '@medplum/core';
import type { InternalSchemaElement, TypedValue, TypedValueWithPath } from '@medplum/core';

/** One type an element may take, with the JSON keys that carry it (`valueQuantity`, `_valueQuantity`). */
export interface TypeCandidate {
  readonly key: string;
  readonly extensionKey: string;
  readonly code: string;
}

const candidatesByElement = new WeakMap<InternalSchemaElement, readonly TypeCandidate[]>();

/** The JSON keys an element is read from, in medplum's order (the element's types in order). */
export function candidatesOf(element: InternalSchemaElement): readonly TypeCandidate[] {
  let candidates = candidatesByElement.get(element);
  if (!candidates) {
    const lastPathSegment = element.path.substring(element.path.lastIndexOf('.') + 1);
    candidates = (element.type ?? []).map((type) => {
      const key = lastPathSegment.replace('[x]', capitalize(type.code));
      return { key, extensionKey: '_' + key, code: type.code };
    });
    candidatesByElement.set(element, candidates);
  }
  return candidates;
}

/**
 * The value of `element` in `typedValue.value` with its type, as @medplum/core's
 * getTypedPropertyValueWithSchema returns it; the caller has checked that `typedValue.value` is truthy.
 */
export function typedPropertyValue(typedValue: TypedValue, element: InternalSchemaElement): TypedValue | TypedValue[] | undefined {
  const found = rawPropertyValue(typedValue.value, element);
  if (!found) return undefined;
  const { value, type } = found;
  return Array.isArray(value) ? value.map((v) => withType(v, type)) : withType(value, type);
}

/**
 * The same read with each value's FHIRPath location, as @medplum/core's getTypedPropertyValueWithPath
 * returns it, except that an absent value is undefined rather than a `{ type: 'undefined' }` placeholder.
 * `firstCandidate`: the caller knows that the element's candidates before this one are absent from the object.
 */
export function typedPropertyValueWithPath(
  parent: TypedValueWithPath,
  key: string,
  element: InternalSchemaElement,
  firstCandidate = 0,
): TypedValueWithPath | TypedValueWithPath[] | undefined {
  const found = rawPropertyValue(parent.value, element, firstCandidate);
  if (!found) return undefined;
  const { value, type } = found;
  const path = childPath(parent.path, key);
  if (!Array.isArray(value)) return withTypeAndPath(value, type, path);
  const values = new Array<TypedValueWithPath>(value.length);
  for (let i = 0; i < value.length; i++) values[i] = withTypeAndPath(value[i], type, `${path}[${i}]`);
  return values;
}

/** medplum's `${parentPath}.${key}`, and just `key` under an empty parent path. */
export function childPath(parentPath: string | undefined, key: string): string {
  return parentPath ? parentPath + '.' + key : key;
}

/** Wraps medplum's getTypedPropertyValue result with paths, as its crawler's withPath does. */
export function withPath(
  tv: TypedValue | TypedValue[] | undefined,
  parentPath: string | undefined,
  key: string,
): TypedValueWithPath | TypedValueWithPath[] {
  const path = childPath(parentPath, key);
  if (tv === undefined) return { type: 'undefined', value: undefined, path };
  if (Array.isArray(tv)) return tv.map((v, idx) => ({ ...v, path: `${path}[${idx}]` }));
  return { ...tv, path };
}

/**
 * The first of the element's candidates, from `from` on, whose key or `_key` has a value in `object` (medplum takes
 * that one); -1 when there is none, i.e. the element is absent.
 */
export function firstPresentCandidate(object: Record<string, unknown>, element: InternalSchemaElement, from = 0): number {
  const candidates = candidatesOf(element);
  for (let i = from; i < candidates.length; i++) {
    if (object[candidates[i].key] !== undefined || object[candidates[i].extensionKey] !== undefined) return i;
  }
  return -1;
}

// `parent` is a truthy JSON value; a primitive's property reads find nothing, as they do in medplum.
function rawPropertyValue(
  parent: unknown,
  element: InternalSchemaElement,
  firstCandidate = 0,
): { value: unknown; type: string } | undefined {
  const object = parent as Record<string, unknown>;
  const found = firstPresentCandidate(object, element, firstCandidate);
  if (found < 0) return undefined;
  const candidate = candidatesOf(element)[found];
  let resultValue = object[candidate.key];
  const primitiveExtension = object[candidate.extensionKey];
  let resultType = candidate.code;

  // When checking for primitive extensions, we must use the "resolved" path.
  if (primitiveExtension) {
    if (Array.isArray(resultValue)) {
      // Slice to avoid mutating the array in the input value. A `_name` that is not an array is indexed as it is.
      const values: unknown[] = resultValue.slice();
      const extensions = primitiveExtension as ArrayLike<unknown>;
      for (let i = 0; i < Math.max(values.length, extensions.length); i++) {
        values[i] = assignPrimitiveExtension(values[i], extensions[i]);
      }
      resultValue = values;
    } else if (!resultValue && Array.isArray(primitiveExtension)) {
      const values: unknown[] = primitiveExtension.slice();
      for (let i = 0; i < primitiveExtension.length; i++) {
        values[i] = assignPrimitiveExtension(undefined, primitiveExtension[i]);
      }
      resultValue = values;
    } else {
      resultValue = assignPrimitiveExtension(resultValue, primitiveExtension);
    }
  }

  if (isEmpty(resultValue)) return undefined;
  if (resultType === 'Element' || resultType === 'BackboneElement') resultType = element.type[0].code;
  return { value: resultValue, type: resultType };
}

function withType(value: unknown, type: string): TypedValue {
  return { type: type === 'Resource' && isResource(value) ? value.resourceType : type, value };
}

function withTypeAndPath(value: unknown, type: string, path: string): TypedValueWithPath {
  return { type: type === 'Resource' && isResource(value) ? value.resourceType : type, value, path };
}

// medplum's assignPrimitiveExtension and safeAssign: a primitive becomes its wrapper
// object carrying the extension's properties, and an object value gets them assigned in place.
function assignPrimitiveExtension(target: unknown, primitiveExtension: unknown): unknown {
  if (primitiveExtension) {
    if (typeof primitiveExtension !== 'object') {
      throw new Error('Primitive extension must be an object');
    }
    return safeAssign(target ?? {}, primitiveExtension);
  }
  return target;
}

// Except that medplum's safeAssign deleted `__proto__` and `constructor` from the input, silently: a resource holding
// them was stored without them. They are copied as own properties instead (`__proto__` defined, as assigning it would
// run its setter), so that the Element's check reports them as the unknown keys they are.
function safeAssign(target: unknown, source: object): Record<string, unknown> {
  const out = Object(target) as Record<string, unknown>; // a primitive's wrapper object, as Object.assign makes it
  const from = source as Record<string, unknown>;
  for (const key of Object.keys(from)) {
    if (key === '__proto__') Object.defineProperty(out, key, { value: from[key], writable: true, enumerable: true, configurable: true });
    else out[key] = from[key];
  }
  return out;
}
