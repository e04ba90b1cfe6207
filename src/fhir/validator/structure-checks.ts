/*
 * Adapted from @medplum/core 4.5 (src/typeschema/validation.ts: checkObjectForNull, isChoiceOfType,
 * matchesSpecifiedValue, checkSliceElement), Copyright Orangebot, Inc. and Medplum contributors,
 * Apache-2.0. The null check builds a path only where it recurses or reports, and the choice-of-type
 * test matches the schema's `name[x]` elements against the key instead of splitting every key of every
 * object at its capitals; both report what medplum's do.
 */
import {
  arrayify,
  createStructureIssue,
  deepEquals,
  deepIncludes,
  getElementDefinition,
  getNestedProperty,
  getTypedPropertyValueWithoutSchema,
  matchDiscriminant,
} from '@medplum/core';
import type { InternalSchemaElement, SlicingRules, TypedValue } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { typedPropertyValue } from './typed-property';

/** Reports each null (outside a primitive array whose `_name` partner has an entry there) and undefined in `obj`. */
export function checkObjectForNull(obj: Record<string, unknown>, path: string, issues: OperationOutcomeIssue[]): void {
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value === null) {
      issues.push(createStructureIssue(`${path}.${key}`, 'Invalid null value'));
    } else if (Array.isArray(value)) {
      const propertyPath = `${path}.${key}`;
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (item === undefined) {
          issues.push(createStructureIssue(`${propertyPath}[${i}]`, 'Invalid undefined value'));
        } else if (item === null) {
          // The one place FHIR JSON allows null: a primitive array whose extensions cover only some entries
          const partnerKey = key.startsWith('_') ? key.slice(1) : `_${key}`;
          if (!(obj[partnerKey] as Record<number, unknown> | null | undefined)?.[i])
            issues.push(createStructureIssue(`${propertyPath}[${i}]`, 'Invalid null value'));
        } else if (typeof item === 'object') {
          // (medplum also walks strings, numbers and booleans here, which can hold no null)
          checkObjectForNull(item as Record<string, unknown>, `${propertyPath}[${i}]`, issues);
        }
      }
    } else if (typeof value === 'object') {
      checkObjectForNull(value as Record<string, unknown>, `${path}.${key}`, issues);
    }
  }
}

const choicePrefixesByProperties = new WeakMap<Record<string, InternalSchemaElement>, readonly string[]>();

/** The names of the `name[x]` elements without `[x]`, shortest first (medplum tries the shortest first). */
function choicePrefixesOf(properties: Record<string, InternalSchemaElement>): readonly string[] {
  let prefixes = choicePrefixesByProperties.get(properties);
  if (!prefixes) {
    prefixes = Object.keys(properties)
      .filter((name) => name.endsWith('[x]') && properties[name])
      .map((name) => name.slice(0, -3))
      .sort((a, b) => a.length - b.length);
    choicePrefixesByProperties.set(properties, prefixes);
  }
  return prefixes;
}

/**
 * medplum's isChoiceOfType: the `name[x]` element (with the key's `_`) that `key` is a value of, when
 * that element has a value in `typedValue`. medplum splits the key before each capital A-Z and tries
 * each prefix, shortest first; a prefix ends at such a split when the next character is a capital.
 */
export function choiceOfTypeElementName(
  typedValue: TypedValue,
  key: string,
  properties: Record<string, InternalSchemaElement>,
): string | undefined {
  const prefixes = choicePrefixesOf(properties);
  if (prefixes.length === 0) return undefined;
  const extension = key.startsWith('_');
  const name = extension ? key.slice(1) : key;
  for (const prefix of prefixes) {
    if (!startsAtSplit(name, prefix)) continue;
    return propertyValue(typedValue, prefix) ? (extension ? '_' : '') + prefix + '[x]' : undefined;
  }
  return undefined;
}

/** True when `prefix` is one of the prefixes medplum's `key.split(/(?=[A-Z])/g)` accumulates. */
function startsAtSplit(key: string, prefix: string): boolean {
  if (prefix.length === 0) return key.length === 0;
  if (!key.startsWith(prefix)) return false;
  if (key.length === prefix.length) return true;
  const next = key.charCodeAt(prefix.length);
  return next >= 65 && next <= 90; // A-Z
}

/** medplum's getTypedPropertyValue without a profile. */
function propertyValue(typedValue: TypedValue, name: string): TypedValue | TypedValue[] | undefined {
  if (!typedValue.value) return undefined;
  const element = getElementDefinition(typedValue.type, name);
  return element ? typedPropertyValue(typedValue, element) : getTypedPropertyValueWithoutSchema(typedValue, name);
}

/** True when the value has the element's pattern (if any) and equals its fixed value (if any). */
export function matchesSpecifiedValue(value: TypedValue | TypedValue[], element: InternalSchemaElement): boolean {
  // Compare type and value only (a value may carry more, such as its path)
  const typeAndValue: TypedValue | TypedValue[] = Array.isArray(value)
    ? value.map((v) => ({ type: v.type, value: v.value as unknown }))
    : { type: value.type, value: value.value as unknown };
  if (element.pattern && !deepIncludes(typeAndValue, element.pattern)) return false;
  if (element.fixed && !deepEquals(typeAndValue, element.fixed)) return false;
  return true;
}

/** The name of the first slice whose discriminators all match the value, or undefined. */
export function checkSliceElement(value: TypedValue, slicingRules: SlicingRules | undefined): string | undefined {
  if (!slicingRules) return undefined;
  for (const slice of slicingRules.slices) {
    if (
      slicingRules.discriminator.every((discriminator) =>
        arrayify(getNestedProperty(value, discriminator.path))?.some((v) => matchDiscriminant(v, discriminator, slice)),
      )
    ) {
      return slice.name;
    }
  }
  return undefined;
}
