import { evalFhirPathTyped, getSearchParameterDetails, toTypedValue, TypedValue } from '@medplum/core';
import type {
  Address,
  CodeableConcept,
  Coding,
  ContactPoint,
  HumanName,
  Identifier,
  Period,
  Quantity,
  Reference,
  Resource,
  Timing,
} from '@medplum/fhirtypes';
import type { SearchParameter } from '@medplum/fhirtypes';
import { RESOURCE_COLUMN_PARAMS, searchParametersOf } from '../definitions';
import { type CompiledExpression, compileExpression } from './compiled-paths';
import { dateRange } from './date-range';
import { normalizeString } from './normalize';

/** Index rows of one resource, grouped by index table, without the resource columns. */
export interface IndexRows {
  token: { code: string; system: string | null; value: string | null; text: string | null }[];
  string: { code: string; value: string; exact: string }[];
  date: { code: string; low: string; high: string }[];
  reference: { code: string; target_type: string | null; target_id: string }[];
  quantity: { code: string; value: string; system: string | null; unit: string | null }[];
}

/** Evaluates every indexed search parameter of the resource's type into index rows. */
export function indexValues(resource: Resource): IndexRows {
  const rows: IndexRows = { token: [], string: [], date: [], reference: [], quantity: [] };
  let input: TypedValue[] | undefined;
  for (const { code, param, compiled } of indexedParameters(resource.resourceType)) {
    let values = compiled?.(resource);
    if (!values) {
      input ??= [toTypedValue(resource)];
      values = evalFhirPathTyped(getSearchParameterDetails(resource.resourceType, param).parsedExpression, input);
    }
    for (const value of values) addValue(rows, param.type, code, value);
  }
  return dedupe(rows);
}

/** The token index rows of the named search parameters alone, as indexValues makes them (cheaper: one parameter's walk). */
export function tokenIndexValues(resource: Resource, codes: ReadonlySet<string>): IndexRows['token'] {
  const rows: IndexRows = { token: [], string: [], date: [], reference: [], quantity: [] };
  let input: TypedValue[] | undefined;
  for (const { code, param, compiled } of indexedParameters(resource.resourceType)) {
    if (!codes.has(code) || (param.type !== 'token' && param.type !== 'uri')) continue;
    let values = compiled?.(resource);
    if (!values) {
      input ??= [toTypedValue(resource)];
      values = evalFhirPathTyped(getSearchParameterDetails(resource.resourceType, param).parsedExpression, input);
    }
    for (const value of values) addValue(rows, param.type, code, value);
  }
  return dedupe(rows).token;
}

interface IndexedParameter {
  readonly code: string;
  readonly param: SearchParameter;
  /** The expression as a plain property walk, when it is one (see compiled-paths.ts). */
  readonly compiled?: CompiledExpression;
}

const indexedByType = new Map<string, IndexedParameter[]>();

function indexedParameters(type: string): IndexedParameter[] {
  let list = indexedByType.get(type);
  if (!list) {
    list = Object.entries(searchParametersOf(type))
      .filter(([code]) => !RESOURCE_COLUMN_PARAMS.has(code))
      .map(([code, param]) => ({ code, param, compiled: param.expression ? compileExpression(type, param.expression) : undefined }));
    indexedByType.set(type, list);
  }
  return list;
}

/** indexValues with every expression evaluated by FHIRPath: the reference the compiled walks are tested against. */
export function indexValuesByFhirPath(resource: Resource): IndexRows {
  const rows: IndexRows = { token: [], string: [], date: [], reference: [], quantity: [] };
  const input = [toTypedValue(resource)];
  for (const { code, param } of indexedParameters(resource.resourceType)) {
    const values = evalFhirPathTyped(getSearchParameterDetails(resource.resourceType, param).parsedExpression, input);
    for (const value of values) addValue(rows, param.type, code, value);
  }
  return dedupe(rows);
}

function addValue(rows: IndexRows, kind: string, code: string, typed: TypedValue): void {
  switch (kind) {
    case 'token':
    case 'uri':
      return addToken(rows, code, typed);
    case 'string':
      return addString(rows, code, typed);
    case 'date':
      return addDate(rows, code, typed);
    case 'reference':
      return addReference(rows, code, typed);
    case 'quantity':
    case 'number':
      return addQuantity(rows, code, typed);
  }
}

function lower(text: string | undefined): string | null {
  return text ? normalizeString(text) : null;
}

// A TypedValue's value is typed `any` by @medplum/core; its `type` names the FHIR type it holds, which the casts below
// follow.
function addToken(rows: IndexRows, code: string, { type, value }: TypedValue): void {
  if (value === undefined || value === null) return;
  switch (type) {
    case 'CodeableConcept': {
      const concept = value as CodeableConcept;
      const text = lower(concept.text);
      for (const coding of concept.coding ?? []) {
        rows.token.push({ code, system: coding.system ?? null, value: coding.code ?? null, text: lower(coding.display) ?? text });
      }
      if (text) rows.token.push({ code, system: null, value: null, text });
      return;
    }
    case 'Coding': {
      const coding = value as Coding;
      rows.token.push({ code, system: coding.system ?? null, value: coding.code ?? null, text: lower(coding.display) });
      return;
    }
    case 'Identifier': {
      const identifier = value as Identifier;
      rows.token.push({ code, system: identifier.system ?? null, value: identifier.value ?? null, text: lower(identifier.type?.text) });
      return;
    }
    case 'ContactPoint': {
      const contact = value as ContactPoint;
      rows.token.push({ code, system: contact.system ?? null, value: contact.value ?? null, text: null });
      return;
    }
    case 'Reference': {
      const reference = (value as Reference).reference;
      if (reference) rows.token.push({ code, system: null, value: reference, text: null });
      return;
    }
    default:
      if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') {
        rows.token.push({ code, system: null, value: String(value), text: null });
      }
  }
}

function addString(rows: IndexRows, code: string, { type, value }: TypedValue): void {
  if (value === undefined || value === null) return;
  const push = (text: string | undefined): void => {
    if (text) rows.string.push({ code, value: normalizeString(text), exact: text });
  };
  if (type === 'HumanName') {
    const name = value as HumanName;
    push(name.text);
    push(name.family);
    name.given?.forEach(push);
    name.prefix?.forEach(push);
    name.suffix?.forEach(push);
  } else if (type === 'Address') {
    const address = value as Address;
    push(address.text);
    address.line?.forEach(push);
    push(address.city);
    push(address.district);
    push(address.state);
    push(address.postalCode);
    push(address.country);
  } else if (typeof value === 'string') {
    push(value);
  }
}

function addDate(rows: IndexRows, code: string, { type, value }: TypedValue): void {
  if (!value) return;
  if (type === 'Period') {
    const period = value as Period;
    const low = period.start ? dateRange(period.start)?.low : '-infinity';
    const high = period.end ? dateRange(period.end)?.high : 'infinity';
    if (low && high) rows.date.push({ code, low, high });
  } else if (type === 'Timing') {
    for (const event of (value as Timing).event ?? []) addDate(rows, code, { type: 'dateTime', value: event });
  } else if (typeof value === 'string') {
    const range = dateRange(value);
    if (range) rows.date.push({ code, ...range });
  }
}

function addReference(rows: IndexRows, code: string, { type, value }: TypedValue): void {
  const reference = type === 'Reference' ? (value as Reference | undefined)?.reference : typeof value === 'string' ? value : undefined;
  if (!reference) return;
  const match = /^(?:.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/.*)?$/.exec(reference);
  if (match && !reference.includes('://')) {
    rows.reference.push({ code, target_type: match[1], target_id: match[2] });
  } else {
    rows.reference.push({ code, target_type: null, target_id: reference });
  }
}

function addQuantity(rows: IndexRows, code: string, { value }: TypedValue): void {
  if (value === undefined || value === null) return;
  if (typeof value === 'number') {
    rows.quantity.push({ code, value: String(value), system: null, unit: null });
  } else {
    const quantity = value as Quantity;
    if (typeof quantity.value === 'number') {
      rows.quantity.push({
        code,
        value: String(quantity.value),
        system: quantity.system ?? null,
        unit: quantity.code ?? quantity.unit ?? null,
      });
    }
  }
}

function dedupe(rows: IndexRows): IndexRows {
  const unique = <T>(list: T[]): T[] => {
    if (list.length < 2) return list;
    const seen = new Set<string>();
    return list.filter((row) => {
      const key = JSON.stringify(row);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  };
  return {
    token: unique(rows.token),
    string: unique(rows.string),
    date: unique(rows.date),
    reference: unique(rows.reference),
    quantity: unique(rows.quantity),
  };
}
