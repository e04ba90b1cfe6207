import { Filter, Operator } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import { RawBuilder, sql } from 'kysely';
import type { AccessScope } from '../../access/access-scope';
import { visibilityCondition } from '../../access/visibility';
import { isSupportedType, searchParametersOf } from '../definitions';
import { badRequest } from '../outcomes';
import { dateRange, isFhirDate } from './date-range';
import { normalizeString } from './normalize';
import { parseSearch } from './parse-search';

type Condition = RawBuilder<unknown>;

/** Splits a parameter value on the commas that mean OR (a `\,` is a literal comma). */
export function splitOr(value: string): string[] {
  return value.split(/(?<!\\),/).map((v) => v.replace(/\\,/g, ','));
}

/**
 * The SQL condition on `r` (the resource table) for one search filter; throws 400 for bad input. `perRow`: the
 * condition is checked on rows found otherwise (match-source.ts), so its index lookups go by the row's id. `scope`:
 * the caller's access, which a chained parameter applies to the resources it looks into (without it, the condition
 * is only checked for validity).
 */
export function filterCondition(resourceType: string, filter: Filter, perRow = false, scope?: AccessScope): Condition {
  const { code, operator } = filter;
  if (code.includes('.')) return chainCondition(resourceType, filter, perRow, scope);
  if (code.includes(':')) {
    throw badRequest(`Chained or unsupported parameter "${code}" on ${resourceType}`, code);
  }
  if (code === '_id') return or(filter, (v) => sql`r.id = ${v}`);
  if (code === '_lastUpdated') {
    const bounds = dateValues(code, filter);
    const parts: Condition[] = [];
    for (let k = 0; k < bounds.length; k += 2)
      parts.push(dateCondition(sql`r.last_updated`, sql`r.last_updated`, operator, bounds[k], bounds[k + 1], code));
    return anyOf(parts);
  }
  const param = searchParametersOf(resourceType)[code];
  if (!param) throw badRequest(`Unknown search parameter "${code}" for ${resourceType}`, code);
  if (operator === Operator.MISSING || operator === Operator.PRESENT) return missing(param, code, filter, perRow);
  switch (param.type) {
    case 'token':
    case 'uri':
      return tokenCondition(code, filter, perRow);
    case 'string': {
      const slots = slotsOf(filter);
      const matches = slots
        ? inGroups(slots, operator === Operator.EQUALS ? 2 : 1)
        : alternatives(filter).map((v) => stringMatch(code, operator, v));
      return anyOf(matches.map((match) => stringCondition(code, operator, match, perRow)));
    }
    case 'date': {
      const bounds = slotsOf(filter) ?? dateValues(code, filter);
      const parts: Condition[] = [];
      for (let k = 0; k < bounds.length; k += 2)
        parts.push(
          sql`exists (select 1 from search_date i where ${rowKey(code, perRow)} and ${dateCondition(sql`i.low`, sql`i.high`, operator, bounds[k], bounds[k + 1], code)})`,
        );
      return anyOf(parts);
    }
    case 'reference':
      return or(filter, (v) => referenceCondition(code, operator, v, perRow));
    case 'quantity':
    case 'number':
      return or(filter, (v) => quantityCondition(code, operator, v, param, perRow));
    default:
      throw badRequest(`Search parameter "${code}" of type ${param.type} is not supported`, code);
  }
}

/**
 * `i` (an index row) is one of `r`'s under parameter `code`. Per row, resource_type is compared as an expression: the
 * (resource_type, code, value) index then cannot serve the lookup, and the (resource_id, ...) index does, whatever the
 * statistics say (without them the planner rated both alike and walked every value of the parameter, for each row).
 */
function rowKey(code: string, perRow: boolean): Condition {
  return perRow
    ? sql`i.resource_id = r.id and (i.resource_type || '') = r.resource_type and i.code = ${code}`
    : sql`i.resource_id = r.id and i.resource_type = r.resource_type and i.code = ${code}`;
}

/** The most links a chained parameter may follow (`patient.organization.partof.name` is three). */
export const MAX_CHAIN_LINKS = 3;

/**
 * A chained parameter (`patient.organization=Organization/x`, `subject:Patient.name=ada`): the resource refers, under
 * the first parameter, to a resource of a type it may name that the caller may see, is not deleted, and matches the
 * rest of the chain (itself a search parameter of that type, with its modifiers and prefixes, or a further chain).
 */
function chainCondition(resourceType: string, filter: Filter, perRow: boolean, scope: AccessScope | undefined): Condition {
  const { code } = filter;
  if (code.split('.').length - 1 > MAX_CHAIN_LINKS)
    throw badRequest(`Chained parameter "${code}" follows more than ${MAX_CHAIN_LINKS} references`, code);
  const dot = code.indexOf('.');
  const [link, typeModifier, ...extra] = code.slice(0, dot).split(':');
  const rest = code.slice(dot + 1);
  const param = searchParametersOf(resourceType)[link];
  if (!param || param.type !== 'reference' || extra.length)
    throw badRequest(`Chained parameter "${code}": "${link}" is not a reference search parameter of ${resourceType}`, code);
  const named: string[] = (param.target ?? []).filter((type) => isSupportedType(type));
  if (typeModifier !== undefined && !named.includes(typeModifier))
    throw badRequest(`Chained parameter "${code}": ${resourceType}.${link} does not refer to ${typeModifier}`, code);
  const next = rest.split(/[.:]/)[0];
  const targets = (typeModifier !== undefined ? [typeModifier] : named).filter(
    (type) => next === '_id' || next === '_lastUpdated' || searchParametersOf(type)[next] !== undefined,
  );
  if (!targets.length)
    throw badRequest(`Chained parameter "${code}": no type ${resourceType}.${link} refers to has a search parameter "${next}"`, code);
  // The rest is parsed as a search of the target type would parse it, so its modifier and prefix mean the same there.
  const inner = targets.map((type) => {
    const [chained] = parseSearch(type, { [rest]: filter.value }).filters ?? [];
    if (!chained) throw badRequest(`Chained parameter "${code}" has no value`, code);
    // A caller who may not search that type by the rest (a reduced view hides it) does not reach it through a chain.
    const seen = scope?.narrowForSearch?.(type, [rest]) ?? scope;
    const visible = seen ? visibilityCondition(seen, type) : undefined;
    const parts = [sql`r.resource_type = ${type}`, ...(visible ? [visible] : []), filterCondition(type, chained, false, seen)];
    return sql`(${sql.join(parts, sql` and `)})`;
  });
  // Inside, `r` is the resource referred to; the reference row `i` is the outer resource's.
  return sql`exists (select 1 from search_reference i where ${rowKey(link, perRow)} and i.target_type = any(${targets}::text[])
    and exists (select 1 from resource r where r.resource_type = i.target_type and r.id = i.target_id and r.deleted = false
      and (${sql.join(inner, sql` or `)})))`;
}

function or(filter: Filter, each: (value: string) => Condition): Condition {
  return anyOf(alternatives(filter).map(each));
}

/** A filter's OR alternatives, each non-empty; throws 400 when it has none. */
function alternatives(filter: Filter): string[] {
  const values = splitOr(filter.value).filter((v) => v !== '');
  if (!values.length) throw badRequest(`Search parameter "${filter.code}" has no value`, filter.code);
  return values;
}

function anyOf(parts: readonly Condition[]): Condition {
  return parts.length === 1 ? parts[0] : sql`(${sql.join(parts, sql` or `)})`;
}

/**
 * A filter whose values go into its condition as the given slots, in the order boundValues gives them, instead of as
 * themselves: the condition of a statement compiled once for every search of its shape (statement-cache.ts).
 */
export interface SlottedFilter extends Filter {
  readonly slots: readonly unknown[];
}

function slotsOf(filter: Filter): readonly unknown[] | undefined {
  return (filter as Partial<SlottedFilter>).slots;
}

/**
 * The values a filter's condition takes as parameters, in order, when its text depends only on its parameter, its
 * modifier or prefix and how many alternatives it has (string and date parameters): a statement compiled for one such
 * search serves every other of its shape with these values bound. Undefined for other filters, whose text may depend
 * on their values. Throws 400 as filterCondition does for a value it refuses.
 */
export function boundValues(resourceType: string, filter: Filter): unknown[] | undefined {
  const { code, operator } = filter;
  if (code.includes('.') || code.includes(':') || operator === Operator.MISSING || operator === Operator.PRESENT) return undefined;
  const kind = searchParametersOf(resourceType)[code]?.type;
  if (kind === 'string') {
    const matches = alternatives(filter).map((value) => stringMatch(code, operator, value));
    // A prefix with no end (empty, or ending in U+10FFFF) is compared with LIKE: its text is its own.
    if (operator === Operator.EQUALS && matches.some((match) => match.length !== 2)) return undefined;
    return matches.flat();
  }
  if (kind === 'date') return dateValues(code, filter);
  return undefined;
}

/**
 * What a string filter's condition compares one alternative with (stringCondition): for the default prefix match, the
 * range of the strings that start with it, as its low and high ends ([low, high]; [pattern] for LIKE when the prefix
 * has no end); for :contains a LIKE pattern; for :exact the value.
 */
function stringMatch(code: string, operator: Operator, value: string): readonly string[] {
  switch (operator) {
    case Operator.EQUALS: {
      const prefix = normalizeString(value);
      const end = prefixEnd(prefix);
      return end === undefined ? [likeEscape(prefix) + '%'] : [prefix, end];
    }
    case Operator.EXACT:
      return [value];
    case Operator.CONTAINS:
      return ['%' + likeEscape(normalizeString(value)) + '%'];
    default:
      throw badRequest(`Modifier :${operator} is not supported on string parameter "${code}"`, code);
  }
}

/**
 * The least string above every string that starts with `prefix` in the order of the string index (text_pattern_ops:
 * the bytes of UTF-8, which is the order of code points): the prefix with its last code point one higher. Undefined
 * when there is none (an empty prefix, or one of U+10FFFF alone).
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length) {
    const last = points.pop()!.codePointAt(0)!;
    // U+D800-U+DFFF are surrogates, which UTF-8 does not encode: the code point after U+D7FF is U+E000.
    if (last < 0x10ffff) return points.join('') + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1);
  }
  return undefined;
}

function inGroups(values: readonly unknown[], size: number): unknown[][] {
  const groups: unknown[][] = [];
  for (let k = 0; k < values.length; k += size) groups.push(values.slice(k, k + size));
  return groups;
}

/** Per alternative of a date filter, the low and high ends of the interval it searches (dateCondition). */
function dateValues(code: string, filter: Filter): string[] {
  return alternatives(filter).flatMap((value) => {
    if (!isFhirDate(value)) throw badRequest(`"${value}" is not a valid date for parameter "${code}"`, code);
    const range = dateRange(value)!;
    return [range.low, range.high];
  });
}

function missing(param: SearchParameter, code: string, filter: Filter, perRow: boolean): Condition {
  const table = sql.table(tableFor(param.type as string));
  const exists = sql`exists (select 1 from ${table} i where ${rowKey(code, perRow)})`;
  const wantMissing = (filter.operator === Operator.MISSING) === (filter.value === 'true');
  if (filter.value !== 'true' && filter.value !== 'false') throw badRequest(`:missing takes true or false`, code);
  return wantMissing ? sql`not ${exists}` : exists;
}

function tableFor(kind: string): string {
  switch (kind) {
    case 'token':
    case 'uri':
      return 'search_token';
    case 'string':
      return 'search_string';
    case 'date':
      return 'search_date';
    case 'reference':
      return 'search_reference';
    default:
      return 'search_quantity';
  }
}

function tokenCondition(code: string, filter: Filter, perRow: boolean): Condition {
  const { operator } = filter;
  if (operator === Operator.TEXT) {
    return or(
      filter,
      (v) =>
        sql`exists (select 1 from search_token i where ${rowKey(code, perRow)} and i.text like ${'%' + likeEscape(normalizeString(v)) + '%'})`,
    );
  }
  if (operator !== Operator.EQUALS && operator !== Operator.NOT && operator !== Operator.EXACT) {
    throw badRequest(`Modifier :${operator} is not supported on token parameter "${code}"`, code);
  }
  const match = (v: string): Condition => {
    const bar = v.indexOf('|');
    if (bar < 0) return sql`i.value = ${v}`;
    const system = v.slice(0, bar);
    const value = v.slice(bar + 1);
    if (!system) return sql`(i.system is null and i.value = ${value})`;
    if (!value) return sql`i.system = ${system}`;
    return sql`(i.system = ${system} and i.value = ${value})`;
  };
  const values = splitOr(filter.value).filter((v) => v !== '');
  if (!values.length) throw badRequest(`Search parameter "${code}" has no value`, code);
  const any = sql`exists (select 1 from search_token i where ${rowKey(code, perRow)} and (${sql.join(values.map(match), sql` or `)}))`;
  return operator === Operator.NOT ? sql`not ${any}` : any;
}

function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => '\\' + c);
}

/**
 * A string filter's condition on one alternative, `match` being what stringMatch gives for it (or its slots). A prefix
 * is a range of the index, so a statement prepared once for every value (its generic plan) still reads only the
 * strings that start with it; LIKE with a pattern known only at execution would read every value of the parameter.
 */
function stringCondition(code: string, operator: Operator, match: readonly unknown[], perRow: boolean): Condition {
  const base = sql`${rowKey(code, perRow)}`;
  switch (operator) {
    case Operator.EQUALS:
      if (match.length === 2)
        return sql`exists (select 1 from search_string i where ${base} and i.value ~>=~ ${match[0]}::text and i.value ~<~ ${match[1]}::text)`;
      return sql`exists (select 1 from search_string i where ${base} and i.value like ${match[0]})`;
    case Operator.CONTAINS:
      return sql`exists (select 1 from search_string i where ${base} and i.value like ${match[0]})`;
    case Operator.EXACT:
      return sql`exists (select 1 from search_string i where ${base} and i.exact = ${match[0]})`;
    default:
      throw badRequest(`Modifier :${operator} is not supported on string parameter "${code}"`, code);
  }
}

/**
 * FHIR date prefixes, comparing the stored interval [low, high] with the searched one [searchedLow, searchedHigh]
 * (dateValues, or their slots).
 */
function dateCondition(
  low: RawBuilder<unknown>,
  high: RawBuilder<unknown>,
  operator: Operator,
  searchedLow: unknown,
  searchedHigh: unknown,
  code: string,
): Condition {
  const sl = sql`${searchedLow}::timestamptz`;
  const sh = sql`${searchedHigh}::timestamptz`;
  switch (operator) {
    case Operator.EQUALS:
      return sql`(${low} >= ${sl} and ${high} <= ${sh})`;
    case Operator.NOT_EQUALS:
      return sql`(${low} < ${sl} or ${high} > ${sh})`;
    case Operator.GREATER_THAN:
      return sql`${high} > ${sh}`;
    case Operator.LESS_THAN:
      return sql`${low} < ${sl}`;
    case Operator.GREATER_THAN_OR_EQUALS:
      return sql`${high} >= ${sl}`;
    case Operator.LESS_THAN_OR_EQUALS:
      return sql`${low} <= ${sh}`;
    case Operator.STARTS_AFTER:
      return sql`${low} > ${sh}`;
    case Operator.ENDS_BEFORE:
      return sql`${high} < ${sl}`;
    case Operator.APPROXIMATELY:
      return sql`(${low} <= ${sh} and ${high} >= ${sl})`;
    default:
      throw badRequest(`Prefix or modifier "${operator}" is not supported on date parameter "${code}"`, code);
  }
}

function referenceCondition(code: string, operator: Operator, value: string, perRow: boolean): Condition {
  if (operator !== Operator.EQUALS) {
    throw badRequest(`Modifier :${operator} is not supported on reference parameter "${code}"`, code);
  }
  const match = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(value);
  const base = sql`${rowKey(code, perRow)}`;
  if (match && !value.includes('://')) {
    return sql`exists (select 1 from search_reference i where ${base} and i.target_id = ${match[2]} and i.target_type = ${match[1]})`;
  }
  return sql`exists (select 1 from search_reference i where ${base} and i.target_id = ${value})`;
}

function quantityCondition(code: string, operator: Operator, value: string, param: SearchParameter, perRow: boolean): Condition {
  const [numberText, system, unit] = value.split('|');
  if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(numberText ?? '')) {
    throw badRequest(`"${value}" is not a valid ${param.type} for parameter "${code}"`, code);
  }
  const n = Number(numberText);
  const decimals = numberText.includes('.') ? numberText.split('.')[1].replace(/[eE].*/, '').length : 0;
  const half = 0.5 * 10 ** -decimals;
  let comparison: Condition;
  switch (operator) {
    case Operator.EQUALS:
    case Operator.APPROXIMATELY:
      comparison = sql`i.value >= ${String(n - half)}::numeric and i.value < ${String(n + half)}::numeric`;
      break;
    case Operator.NOT_EQUALS:
      comparison = sql`(i.value < ${String(n - half)}::numeric or i.value >= ${String(n + half)}::numeric)`;
      break;
    case Operator.GREATER_THAN:
    case Operator.STARTS_AFTER:
      comparison = sql`i.value > ${numberText}::numeric`;
      break;
    case Operator.LESS_THAN:
    case Operator.ENDS_BEFORE:
      comparison = sql`i.value < ${numberText}::numeric`;
      break;
    case Operator.GREATER_THAN_OR_EQUALS:
      comparison = sql`i.value >= ${numberText}::numeric`;
      break;
    case Operator.LESS_THAN_OR_EQUALS:
      comparison = sql`i.value <= ${numberText}::numeric`;
      break;
    default:
      throw badRequest(`Prefix or modifier "${operator}" is not supported on parameter "${code}"`, code);
  }
  const systemMatch = system ? sql` and i.system = ${system}` : sql``;
  const unitMatch = unit ? sql` and i.unit = ${unit}` : sql``;
  return sql`exists (select 1 from search_quantity i where ${rowKey(code, perRow)} and ${comparison}${systemMatch}${unitMatch})`;
}
