/*
 * Adapted from @medplum/core 4.5 (src/typeschema/validation.ts, validateResource and ResourceValidator),
 * Copyright Orangebot, Inc. and Medplum contributors, Apache-2.0.
 *
 * Why a copy: validation is the largest CPU cost of an import (~210-235 µs per Synthea resource with
 * medplum's, ~65 µs with this one), and most of it went to reading absent elements and splitting
 * property names (see crawler.ts and typed-property.ts). This is medplum's validator with those reads
 * made cheap and a profile parsed once rather than on every call; it gives the same issues in the same
 * order and throws the same OperationOutcomeError when one is an error. Tests hold it to medplum's on
 * the whole Synthea corpus, on some five thousand broken resources and against profiles.
 */
import {
  HTTP_HL7_ORG,
  LRUCache,
  OperationOutcomeError,
  UCUM,
  createConstraintIssue,
  createOperationOutcomeIssue,
  createProcessingIssue,
  createStructureIssue,
  evalFhirPathTyped,
  fhirTypeToJsType,
  getDataType,
  isPrimitiveType,
  isReference,
  isResource,
  parseStructureDefinition,
  toTypedValue,
  validationError,
} from '@medplum/core';
import type { Constraint, FhirPathAtom, InternalSchemaElement, InternalTypeSchema, TypedValue, TypedValueWithPath } from '@medplum/core';
import type { OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { childPath } from './typed-property';
import { holdsForAbsentElements } from './absent-element-invariants';
import { crawlTypedValue, type CrawlerVisitor } from './crawler';
import { checkObjectForNull, checkSliceElement, choiceOfTypeElementName, matchesSpecifiedValue } from './structure-checks';
import { numberProblem, stringProblem } from './primitive-checks';

/** Validates against a profile rather than the base definition of the resource's type. */
export interface ValidatorOptions {
  profile?: StructureDefinition;
}

/** Constraint keys medplum does not evaluate (ele-1 everywhere, and ones needing descendants() or back compat). */
const skippedConstraintKeys: Record<string, boolean> = {
  'ele-1': true,
  'dom-3': true,
  'org-1': true,
  'sdf-19': true,
};

const fhirPathCache = new LRUCache<FhirPathAtom>(1_000);

const profileSchemas = new WeakMap<StructureDefinition, InternalTypeSchema>();

/**
 * A profile's parsed schema. medplum parses the StructureDefinition on every call (~1 ms for
 * portal-message); profiles are reference data loaded at boot and never changed, so once is enough.
 */
function profileSchemaOf(profile: StructureDefinition): InternalTypeSchema {
  let schema = profileSchemas.get(profile);
  if (!schema) {
    schema = parseStructureDefinition(profile);
    profileSchemas.set(profile, schema);
  }
  return schema;
}

/**
 * Drop-in for @medplum/core's validateResource: returns the warnings, or throws an OperationOutcomeError
 * holding every issue when one of them is an error.
 */
export function validateResource(resource: Resource, options?: ValidatorOptions): OperationOutcomeIssue[] {
  if (!resource.resourceType) {
    throw new OperationOutcomeError(validationError('Missing resource type'));
  }
  return new ResourceValidator(toTypedValue(resource), options).validate();
}

class ResourceValidator implements CrawlerVisitor {
  private readonly issues: OperationOutcomeIssue[] = [];
  private readonly currentResource: Resource[] = [];
  private readonly schema: InternalTypeSchema;

  constructor(
    private readonly root: TypedValue,
    options?: ValidatorOptions,
  ) {
    if (isResource(root.value)) this.currentResource.push(root.value);
    this.schema = options?.profile ? profileSchemaOf(options.profile) : getDataType(root.type);
  }

  validate(): OperationOutcomeIssue[] {
    this.constraintsCheck({ ...this.root, path: this.schema.path }, this.schema);
    checkObjectForNull(this.root.value as Record<string, unknown>, this.schema.path, this.issues);
    crawlTypedValue(this.root, this, { schema: this.schema, initialPath: this.schema.path });
    if (this.issues.some((issue) => issue.severity === 'error')) {
      throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: this.issues });
    }
    return this.issues;
  }

  onExitObject(_path: string, obj: TypedValueWithPath, schema: InternalTypeSchema): void {
    this.checkAdditionalProperties(obj, schema.elements, obj.path);
  }

  onEnterResource(_path: string, obj: TypedValueWithPath): void {
    this.currentResource.push(obj.value as Resource);
  }

  onExitResource(): void {
    this.currentResource.pop();
  }

  visitMissingProperty(parent: TypedValueWithPath, key: string, schema: InternalTypeSchema): void {
    const element = schema.elements[key];
    if (!element) throw new Error(`Missing element validation schema for ${key}`);
    if (element.min > 0) this.issues.push(createStructureIssue(childPath(parent.path, key), 'Missing required property'));
  }

  visitProperty(
    _parent: TypedValueWithPath,
    key: string,
    path: string,
    propertyValues: (TypedValueWithPath | TypedValueWithPath[])[],
    schema: InternalTypeSchema,
  ): void {
    const element = schema.elements[key];
    if (!element) throw new Error(`Missing element validation schema for ${key}`);

    for (const value of propertyValues) {
      if (!this.checkPresence(value, element, path)) return;
      let values: TypedValueWithPath[];
      if (element.isArray) {
        if (!Array.isArray(value)) {
          this.issues.push(createStructureIssue(path, 'Expected array of values for property'));
          return;
        }
        values = value;
      } else {
        if (Array.isArray(value)) {
          this.issues.push(createStructureIssue(path, 'Expected single value for property'));
          return;
        }
        values = [value];
      }

      if (values.length < element.min || values.length > element.max) {
        const max = Number.isFinite(element.max) ? element.max : '*';
        this.issues.push(
          createStructureIssue(element.path, `Invalid number of values: expected ${element.min}..${max}, but found ${values.length}`),
        );
      }

      if ((element.pattern || element.fixed) && !matchesSpecifiedValue(value, element)) {
        this.issues.push(createStructureIssue(path, 'Value did not match expected pattern'));
      }

      const sliceCounts: Record<string, number> | undefined = element.slicing
        ? Object.fromEntries(element.slicing.slices.map((s) => [s.name, 0]))
        : undefined;
      for (const v of values) {
        this.constraintsCheck(v, element);
        this.referenceTypeCheck(v, element);
        this.checkPropertyValue(v);
        const sliceName = checkSliceElement(v, element.slicing);
        if (sliceName && sliceCounts) sliceCounts[sliceName] += 1;
      }
      this.validateSlices(element, sliceCounts, path);
    }
  }

  /** medplum's checkPresence; the absent case comes here only through a dotted profile path. */
  private checkPresence(value: TypedValueWithPath | TypedValueWithPath[], field: InternalSchemaElement, path: string): boolean {
    if (!Array.isArray(value) && value.value === undefined) {
      if (field.min > 0) this.issues.push(createStructureIssue(value.path, 'Missing required property'));
      return false;
    }
    // medplum's isEmpty(value): a typed value always has keys, so only an empty list is empty.
    if (Array.isArray(value) && value.length === 0) {
      this.issues.push(createStructureIssue(path, 'Invalid empty value'));
      return false;
    }
    return true;
  }

  private checkPropertyValue(value: TypedValueWithPath): void {
    if (isPrimitiveType(value.type)) {
      this.validatePrimitiveType(value);
    } else if (isEmptyValue(value.value)) {
      this.issues.push(createStructureIssue(value.path, `Invalid empty non-primitive value`));
    }
  }

  private validateSlices(element: InternalSchemaElement, counts: Record<string, number> | undefined, path: string): void {
    const slices = element.slicing?.slices;
    if (!slices || !counts) return;
    for (const slice of slices) {
      const sliceCardinality = counts[slice.name];
      if (sliceCardinality < slice.min || sliceCardinality > slice.max) {
        const max = Number.isFinite(slice.max) ? slice.max : '*';
        this.issues.push(
          createStructureIssue(
            path,
            `Incorrect number of values provided for slice '${slice.name}': expected ${slice.min}..${max}, but found ${sliceCardinality}`,
          ),
        );
      }
    }
  }

  private checkAdditionalProperties(parent: TypedValueWithPath, properties: Record<string, InternalSchemaElement>, path: string): void {
    const object = parent.value as Record<string, unknown> | undefined;
    if (!object) return;
    let choiceOfTypeElements: Record<string, string> | undefined;
    for (const key of Object.keys(object)) {
      if (key === 'resourceType') continue; // the resource type discriminator of FHIR JSON
      const choiceName = choiceOfTypeElementName(parent, key, properties);
      if (choiceName) {
        choiceOfTypeElements ??= {};
        // The primitive extension's type must match the property's
        let relatedElementName: string;
        let requiredRelatedElementName: string;
        if (choiceName.startsWith('_')) {
          relatedElementName = choiceName.slice(1);
          requiredRelatedElementName = key.slice(1);
        } else {
          relatedElementName = '_' + choiceName;
          requiredRelatedElementName = '_' + key;
        }
        if (relatedElementName in choiceOfTypeElements && choiceOfTypeElements[relatedElementName] !== requiredRelatedElementName) {
          const property = choiceName.startsWith('_') ? choiceName.slice(1) : choiceName;
          this.issues.push(
            createOperationOutcomeIssue(
              'warning',
              'structure',
              `Type of primitive extension does not match the type of property "${property}"`,
              choiceName,
            ),
          );
        }
        if (choiceOfTypeElements[choiceName]) {
          // A duplicate choice of type property; medplum reports it as a warning only
          this.issues.push(
            createOperationOutcomeIssue(
              'warning',
              'structure',
              `Conflicting choice of type properties: "${key}", "${choiceOfTypeElements[choiceName]}"`,
              key,
            ),
          );
        }
        choiceOfTypeElements[choiceName] = key;
        continue;
      }
      // Own properties only: `constructor` or `__proto__` is "in" every object, and is no FHIR element.
      if (!Object.hasOwn(properties, key) && !(key.startsWith('_') && Object.hasOwn(properties, key.slice(1)))) {
        this.issues.push(createStructureIssue(`${path}.${key}`, `Invalid additional property "${key}"`));
      }
    }
  }

  private constraintsCheck(value: TypedValueWithPath, field: InternalTypeSchema | InternalSchemaElement): void {
    const constraints = field.constraints;
    if (!constraints) return;
    for (const constraint of constraints) {
      if (constraint.severity === 'error' && !(constraint.key in skippedConstraintKeys)) {
        if (!this.isExpressionTrue(constraint, value)) {
          this.issues.push(createConstraintIssue(value.path, constraint));
          return;
        }
      }
    }
  }

  private referenceTypeCheck(value: TypedValueWithPath, field: InternalSchemaElement): void {
    if (value.type !== 'Reference') return;
    const reference: unknown = value.value;
    // Unrecognised references and contained ones (#id) are not checked
    if (!isReference(reference) || reference.reference.startsWith('#')) return;

    // The resource type of a literal or conditional reference
    const referenceResourceType = reference.reference.includes('?') ? reference.reference.split('?')[0] : reference.reference.split('/')[0];
    if (!referenceResourceType) return; // empty references are left to constraint validation

    const targetProfiles = field.type.find((t) => t.code === 'Reference')?.targetProfile;
    if (!targetProfiles) return;

    const hl7BaseUrl = HTTP_HL7_ORG + '/fhir/StructureDefinition/';
    const medplumBaseUrl = 'https://medplum.com/fhir/StructureDefinition/';
    for (const targetProfile of targetProfiles) {
      if (
        targetProfile === hl7BaseUrl + 'Resource' ||
        targetProfile === hl7BaseUrl + referenceResourceType ||
        targetProfile === medplumBaseUrl + referenceResourceType
      ) {
        return;
      }
      // A profile of another kind (US Core, a custom one) cannot be checked here
      if (!targetProfile.startsWith(hl7BaseUrl) && !targetProfile.startsWith(medplumBaseUrl)) return;
    }
    // Every target profile was recognised and none matched; medplum reports it as a warning only
    this.issues.push(
      createOperationOutcomeIssue(
        'warning',
        'structure',
        `Invalid reference: got "${referenceResourceType}", expected "${targetProfiles.join('", "')}"`,
        value.path,
      ),
    );
  }

  private isExpressionTrue(constraint: Constraint, value: TypedValueWithPath): boolean {
    if (holdsForAbsentElements(constraint.expression, value)) return true;
    const variables: Record<string, TypedValue> = {
      '%context': value,
      '%ucum': toTypedValue(UCUM),
    };
    if (this.currentResource.length > 0) {
      variables['%resource'] = toTypedValue(this.currentResource[this.currentResource.length - 1]);
    }
    if (isResource(this.root.value)) {
      variables['%rootResource'] = this.root;
    }
    try {
      const evalValues = evalFhirPathTyped(constraint.expression, [value], variables, fhirPathCache);
      return evalValues.length === 1 && evalValues[0].value === true;
    } catch (e) {
      // What FHIRPath evaluation throws is an Error; medplum's issue carries it as it is.
      this.issues.push(
        createProcessingIssue(value.path, 'Error evaluating invariant expression', e as Error, { fhirpath: constraint.expression }),
      );
      return false;
    }
  }

  private validatePrimitiveType(typedValue: TypedValueWithPath): void {
    const [primitiveValue, extensionElement] = unpackPrimitiveElement(typedValue);
    const path = typedValue.path;
    if (primitiveValue) {
      const type = primitiveValue.type;
      const value: unknown = primitiveValue.value;
      // First, the value must be of the JSON type of its FHIR type
      if (!(type in fhirTypeToJsType)) {
        this.issues.push(createStructureIssue(path, `Invalid JSON type: ${type} is not a valid FHIR type`));
        return;
      }
      const expectedType = fhirTypeToJsType[type as keyof typeof fhirTypeToJsType];
      if (typeof value !== expectedType) {
        if (value !== null) {
          this.issues.push(createStructureIssue(path, `Invalid JSON type: expected ${expectedType}, but got ${typeof value}`));
        }
        return;
      }
      // Then the checks of its kind
      const problem =
        expectedType === 'string'
          ? stringProblem(value as string, type)
          : expectedType === 'number'
            ? numberProblem(value as number, type)
            : undefined;
      if (problem) this.issues.push(createStructureIssue(path, problem));
    }
    if (extensionElement) {
      crawlTypedValue(extensionElement, this, { schema: getDataType('Element'), initialPath: path });
    }
  }
}

/** medplum's isEmpty for a value the crawler found (so never undefined), without listing an object's keys. */
function isEmptyValue(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === 'string') return v === '';
  if (typeof v !== 'object') return false;
  if ('length' in v && typeof v.length === 'number' && v.length > 0) return false;
  for (const key in v) {
    if (Object.prototype.hasOwnProperty.call(v, key)) return false;
  }
  return true;
}

/** Splits a primitive value carrying a `_name` extension into the primitive and its Element part. */
function unpackPrimitiveElement(v: TypedValue): [TypedValue | undefined, TypedValue | undefined] {
  const wrapped: unknown = v.value;
  if (typeof wrapped !== 'object' || !wrapped) {
    return [v, undefined];
  }
  // The wrapper's own valueOf, not one a `_element` key named "valueOf" put on it.
  const primitiveValue =
    wrapped instanceof String
      ? String.prototype.valueOf.call(wrapped)
      : wrapped instanceof Number
        ? Number.prototype.valueOf.call(wrapped)
        : wrapped instanceof Boolean
          ? Boolean.prototype.valueOf.call(wrapped)
          : wrapped;
  if (primitiveValue === wrapped) {
    return [undefined, { type: 'Element', value: wrapped }];
  }
  const primitiveKeys = new Set(Object.keys(primitiveValue));
  const extensionEntries = Object.entries(wrapped as Record<string, unknown>).filter(([k, _]) => !primitiveKeys.has(k));
  const extensionElement = extensionEntries.length > 0 ? Object.fromEntries(extensionEntries) : undefined;
  return [
    { type: v.type, value: primitiveValue },
    { type: 'Element', value: extensionElement },
  ];
}
