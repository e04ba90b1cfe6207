/*
 * Adapted from @medplum/core 4.5 (src/typeschema/crawler.ts, the synchronous Crawler), Copyright
 * Orangebot, Inc. and Medplum contributors, Apache-2.0.
 *
 * Why a copy: medplum's crawler reads every schema element of every object through
 * getTypedPropertyValue, which looks the element up by name, builds its candidate JSON keys and a
 * `{ type: 'undefined' }` placeholder with its path for each absent one. Here each (schema, value type)
 * pair gets its list of property reads once, an absent property is reported to the visitor without a
 * placeholder or a path, and the visit order (and so the order of issues) is medplum's.
 */
import {
  getDataType,
  getElementDefinitionFromElements,
  getNestedProperty,
  getTypedPropertyValueWithoutSchema,
  isPrimitiveType,
  isResource,
  tryGetDataType,
} from '@medplum/core';
import type { InternalSchemaElement, InternalTypeSchema, TypedValue, TypedValueWithPath } from '@medplum/core';
import { typedPropertyValueWithPath, withPath } from './typed-property';

/** What the crawler reports while walking a value; medplum's CrawlerVisitor plus the absent-property hook. */
export interface CrawlerVisitor {
  onExitObject(path: string, value: TypedValueWithPath, schema: InternalTypeSchema): void;
  onEnterResource(path: string, value: TypedValueWithPath, schema: InternalTypeSchema): void;
  onExitResource(path: string, value: TypedValueWithPath, schema: InternalTypeSchema): void;
  visitProperty(
    parent: TypedValueWithPath,
    key: string,
    path: string,
    propertyValues: (TypedValueWithPath | TypedValueWithPath[])[],
    schema: InternalTypeSchema,
  ): void;
  /** A schema element with no value in `parent` (medplum passes a `{ type: 'undefined' }` value instead). */
  visitMissingProperty(parent: TypedValueWithPath, key: string, schema: InternalTypeSchema): void;
}

/** How to read one schema element from an object. */
interface PropertyRead {
  readonly key: string;
  /** `.${key}`, the suffix of the property path handed to visitProperty. */
  readonly suffix: string;
  /** A dotted profile path or `$this`: read through medplum's getNestedProperty, as medplum does. */
  readonly nested: boolean;
  /** The element medplum's getTypedPropertyValue finds for the key in the value's own type; undefined reads without a schema. */
  readonly source: InternalSchemaElement | undefined;
}

interface PropertyReads {
  /** The value type's schema the reads were resolved against (it changes if definitions are indexed again). */
  readonly typeSchema: InternalTypeSchema | undefined;
  readonly reads: readonly PropertyRead[];
}

const readsBySchema = new WeakMap<InternalTypeSchema, Map<string, PropertyReads>>();

/**
 * The reads of `schema`'s elements from a value of `type`. medplum resolves each key against the
 * value's own type (not the crawled schema, which differs for a profile), so both are part of the key.
 */
function propertyReadsOf(schema: InternalTypeSchema, type: string): readonly PropertyRead[] {
  let byType = readsBySchema.get(schema);
  if (!byType) {
    byType = new Map();
    readsBySchema.set(schema, byType);
  }
  const typeSchema = tryGetDataType(type);
  let entry = byType.get(type);
  if (!entry || entry.typeSchema !== typeSchema) {
    const reads = Object.keys(schema.elements).map((key) => ({
      key,
      suffix: '.' + key,
      nested: key === '$this' || key.includes('.'),
      source: typeSchema ? getElementDefinitionFromElements(typeSchema.elements, key) : undefined,
    }));
    entry = { typeSchema, reads };
    byType.set(type, entry);
  }
  return entry.reads;
}

/** Walks `typedValue` against `schema`, depth first in schema element order, as medplum's crawlTypedValue does. */
export function crawlTypedValue(
  typedValue: TypedValue,
  visitor: CrawlerVisitor,
  options: { schema: InternalTypeSchema; initialPath: string },
): void {
  new Crawler(visitor).crawlObject({ ...typedValue, path: options.initialPath }, options.schema, options.initialPath);
}

class Crawler {
  constructor(private readonly visitor: CrawlerVisitor) {}

  crawlObject(obj: TypedValueWithPath, schema: InternalTypeSchema, path: string): void {
    const objIsResource = isResource(obj.value);
    if (objIsResource) this.visitor.onEnterResource(path, obj, schema);
    for (const read of propertyReadsOf(schema, obj.type)) {
      if (read.nested) this.crawlNestedProperty(obj, read.key, schema, path + read.suffix);
      else this.crawlProperty(obj, read, schema, path);
    }
    this.visitor.onExitObject(path, obj, schema);
    if (objIsResource) this.visitor.onExitResource(path, obj, schema);
  }

  private crawlProperty(parent: TypedValueWithPath, read: PropertyRead, schema: InternalTypeSchema, path: string): void {
    const value = this.readProperty(parent, read);
    if (value === undefined) {
      this.visitor.visitMissingProperty(parent, read.key, schema);
      return;
    }
    const propertyPath = path + read.suffix;
    this.visitor.visitProperty(parent, read.key, propertyPath, [value], schema);
    if (Array.isArray(value)) {
      for (const v of value) this.crawlPropertyValue(v, propertyPath);
    } else {
      this.crawlPropertyValue(value, propertyPath);
    }
  }

  /** medplum's getTypedPropertyValueWithPath for a plain key, with undefined for an absent value. */
  private readProperty(parent: TypedValueWithPath, read: PropertyRead): TypedValueWithPath | TypedValueWithPath[] | undefined {
    if (!parent.value) return undefined;
    if (read.source) return typedPropertyValueWithPath(parent, read.key, read.source);
    const value = getTypedPropertyValueWithoutSchema(parent, read.key);
    return value === undefined ? undefined : withPath(value, parent.path, read.key);
  }

  private crawlNestedProperty(parent: TypedValueWithPath, key: string, schema: InternalTypeSchema, path: string): void {
    const propertyValues = getNestedProperty(parent, key, { withPath: true });
    this.visitor.visitProperty(parent, key, path, propertyValues, schema);
    for (const propertyValue of propertyValues) {
      if (!propertyValue) continue;
      if (Array.isArray(propertyValue)) {
        for (const v of propertyValue) this.crawlPropertyValue(v, path);
      } else {
        this.crawlPropertyValue(propertyValue, path);
      }
    }
  }

  private crawlPropertyValue(value: TypedValueWithPath, path: string): void {
    if (!isPrimitiveType(value.type)) {
      // Recursively crawl as the expected data type
      this.crawlObject(value, getDataType(value.type), path);
    }
  }
}
