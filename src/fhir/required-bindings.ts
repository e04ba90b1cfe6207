import { tryGetDataType } from '@medplum/core';
import type { InternalSchemaElement } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { expandValueSet, ExpandedValueSet } from './value-set-expansion';

/*
 * @medplum/core 4.5's validator checks structure, cardinality and invariants but not terminology:
 * it accepts Patient.gender "bogus". This module adds the one terminology rule we can decide
 * offline: an element with a REQUIRED binding to a ValueSet we can expand must hold one of its codes.
 *
 * For speed, each type is compiled once into a plan listing only the JSON keys that lead to a bound
 * element (directly or through nested datatypes and backbone elements); checking a resource walks
 * just those keys. Bindings we cannot expand (SNOMED CT, LOINC, filters...) are left out of the plan.
 */

/** Codes listed in full in a message when the ValueSet has at most this many. */
const MAX_LISTED_CODES = 12;

type Entry =
  | { readonly kind: 'code' | 'coding' | 'concept'; readonly key: string; readonly valueSet: ExpandedValueSet }
  | { readonly kind: 'nested'; readonly key: string; readonly type: string; plan?: TypePlan }
  | { readonly kind: 'resource'; readonly key: string };

interface TypePlan {
  readonly type: string;
  entries: Entry[];
}

/** Plans by type name; pruned so that every nested entry leads to at least one check. */
const plans = new Map<string, TypePlan>();
/** Raw plans (before pruning), kept so cycles between datatypes are compiled once. */
const rawPlans = new Map<string, TypePlan>();

/**
 * The issues for every element of the resource (contained resources included) whose required
 * binding it breaks, each with its FHIRPath location and the allowed codes when they are few.
 */
export function requiredBindingIssues(resource: Resource): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const plan = planFor(resource.resourceType);
  if (plan)
    checkObject(resource as unknown as Record<string, unknown>, plan, { parent: undefined, key: resource.resourceType, index: -1 }, issues);
  return issues;
}

/**
 * Where a value sits, as a linked list built while walking; turned into a FHIRPath string only when
 * there is an issue to report, since almost every resource has none.
 */
interface Location {
  readonly parent: Location | undefined;
  readonly key: string;
  readonly index: number;
}

function fhirPath(location: Location, leaf?: string): string {
  let path = leaf ? '.' + leaf : '';
  for (let at: Location | undefined = location; at; at = at.parent) {
    path = (at.parent ? '.' : '') + at.key + (at.index >= 0 ? `[${at.index}]` : '') + path;
  }
  return path;
}

function checkObject(obj: Record<string, unknown>, plan: TypePlan, at: Location, issues: OperationOutcomeIssue[]): void {
  for (const entry of plan.entries) {
    const value = obj[entry.key];
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (value[i] !== undefined && value[i] !== null) checkValue(entry, value[i], at, i, issues);
      }
    } else {
      checkValue(entry, value, at, -1, issues);
    }
  }
}

function checkValue(entry: Entry, value: unknown, parent: Location, index: number, issues: OperationOutcomeIssue[]): void {
  switch (entry.kind) {
    case 'code':
      if (typeof value === 'string' && !entry.valueSet.codes.has(value)) {
        issues.push(codeIssue(value, entry.valueSet, fhirPath({ parent, key: entry.key, index })));
      }
      return;
    case 'coding':
      if (isObject(value)) checkCoding(value, entry.valueSet, { parent, key: entry.key, index }, issues);
      return;
    case 'concept': {
      const codings = isObject(value) ? value.coding : undefined;
      if (!Array.isArray(codings)) return;
      for (let i = 0; i < codings.length; i++) {
        const coding: unknown = codings[i];
        if (isObject(coding))
          checkCoding(coding, entry.valueSet, { parent: { parent, key: entry.key, index }, key: 'coding', index: i }, issues);
      }
      return;
    }
    case 'nested':
      if (isObject(value) && entry.plan) checkObject(value, entry.plan, { parent, key: entry.key, index }, issues);
      return;
    case 'resource': {
      const type = isObject(value) ? value.resourceType : undefined;
      const plan = typeof type === 'string' ? planFor(type) : undefined;
      if (plan) checkObject(value as Record<string, unknown>, plan, { parent, key: entry.key, index }, issues);
      return;
    }
  }
}

/** A Coding is judged only when its system is one the ValueSet draws from; other systems are not ours to reject. */
function checkCoding(coding: Record<string, unknown>, valueSet: ExpandedValueSet, at: Location, issues: OperationOutcomeIssue[]): void {
  if (typeof coding.system !== 'string' || typeof coding.code !== 'string') return;
  const codes = valueSet.bySystem.get(coding.system);
  if (codes && !codes.has(coding.code)) issues.push(codeIssue(coding.code, valueSet, fhirPath(at, 'code'), coding.system));
}

function codeIssue(code: string, valueSet: ExpandedValueSet, path: string, system?: string): OperationOutcomeIssue {
  const allowed = system ? [...(valueSet.bySystem.get(system) ?? [])] : [...valueSet.codes];
  const list = allowed.length <= MAX_LISTED_CODES ? `; allowed: ${allowed.join(', ')}` : ` (${allowed.length} codes)`;
  const from = system ? ` of ${system}` : '';
  return {
    severity: 'error',
    code: 'code-invalid',
    details: { text: `Code "${code}"${from} is not in the required value set ${valueSet.url}${list}` },
    expression: [path],
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The pruned plan of a type, compiled on first use; undefined when nothing in the type is bound. */
function planFor(type: string): TypePlan | undefined {
  let plan = plans.get(type);
  if (!plan) {
    compileReachable(type);
    prune();
    plan = plans.get(type);
  }
  return plan && plan.entries.length ? plan : undefined;
}

/** Compiles the raw plan of a type and of every datatype reachable from it. */
function compileReachable(root: string): void {
  const pending = [root];
  while (pending.length) {
    const type = pending.pop() as string;
    if (rawPlans.has(type)) continue;
    const plan = compileType(type);
    rawPlans.set(type, plan);
    for (const entry of plan.entries) if (entry.kind === 'nested' && !rawPlans.has(entry.type)) pending.push(entry.type);
  }
}

function compileType(type: string): TypePlan {
  const schema = tryGetDataType(type);
  const entries: Entry[] = [];
  for (const [name, element] of Object.entries(schema?.elements ?? {})) {
    const choice = name.endsWith('[x]');
    const base = choice ? name.slice(0, -3) : name;
    const valueSet = requiredValueSet(element);
    for (const { code } of element.type) {
      const key = choice ? base + code.charAt(0).toUpperCase() + code.slice(1) : name;
      if (valueSet && code === 'code') entries.push({ kind: 'code', key, valueSet });
      else if (valueSet && code === 'Coding') entries.push({ kind: 'coding', key, valueSet });
      else if (valueSet && code === 'CodeableConcept') entries.push({ kind: 'concept', key, valueSet });
      else if (code === 'Resource') entries.push({ kind: 'resource', key });
      else if (isComplexType(code)) entries.push({ kind: 'nested', key, type: code });
    }
  }
  return { type, entries };
}

function requiredValueSet(element: InternalSchemaElement): ExpandedValueSet | undefined {
  const binding = element.binding;
  if (binding?.strength !== 'required' || !binding.valueSet) return undefined;
  const valueSet = expandValueSet(binding.valueSet);
  return valueSet && valueSet.codes.size ? valueSet : undefined;
}

/** Complex FHIR types start with a capital letter; primitives (code, string, dateTime...) and System.* URLs do not. */
function isComplexType(code: string): boolean {
  const first = code.charCodeAt(0);
  return first >= 65 && first <= 90;
}

/**
 * Keeps, for every compiled type, only the entries that lead to a check. A type is live when it has
 * a check of its own or a nested entry to a live type; iterating to a fixpoint handles datatype cycles
 * (Identifier -> Reference -> Identifier, Extension -> value[x] -> every type).
 */
function prune(): void {
  const live = new Set<string>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const [type, plan] of rawPlans) {
      if (live.has(type)) continue;
      if (plan.entries.some((e) => e.kind !== 'nested' || live.has(e.type))) {
        live.add(type);
        changed = true;
      }
    }
  }
  for (const [type, raw] of rawPlans) {
    let plan = plans.get(type);
    if (!plan) {
      plan = { type, entries: [] };
      plans.set(type, plan);
    }
    plan.entries = raw.entries.filter((e) => e.kind !== 'nested' || live.has(e.type));
  }
  // Link nested entries to the shared pruned plans only now, so a cycle resolves to one object per type.
  for (const plan of plans.values()) {
    for (const entry of plan.entries) if (entry.kind === 'nested') entry.plan = plans.get(entry.type);
  }
}
