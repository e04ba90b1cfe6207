import type {
  Address,
  CodeableConcept,
  Coding,
  ContactPoint,
  Extension,
  HumanName,
  Identifier,
  Period,
  Quantity,
  Range,
  Ratio,
} from '@medplum/fhirtypes';
import { isKnownSystemOid, systemUriForOid } from '../code-systems';
import { XNode, attr, child, children, decodeXmlEntities, kidsOf, textOf } from './xml-node';

/** What data-type conversion needs from the document: narrative lookups and a place to warn. */
export interface DatatypeContext {
  lookupNarrative(reference: string | undefined): string | undefined;
  warn(message: string): void;
  /** Where the value being read sits ("entry 30954-2/3"), so a warning about a value names its entry. */
  where?(): string | undefined;
}

/** A warning about one value, naming the entry it is in when there is one. */
function warnValue(ctx: DatatypeContext, message: string): void {
  const where = ctx.where?.();
  ctx.warn(where ? `${where}: ${message}` : message);
}

/** Days in a month of a year (proleptic Gregorian, as FHIR dates are). */
function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export const DATA_ABSENT_REASON_URL = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

/** HL7 v3 nullFlavor to FHIR data-absent-reason. */
const NULL_FLAVOR_TO_DAR: Record<string, string> = {
  NI: 'unknown',
  UNK: 'unknown',
  ASKU: 'asked-unknown',
  NAV: 'temp-unknown',
  NASK: 'not-asked',
  MSK: 'masked',
  NA: 'not-applicable',
  OTH: 'unsupported',
  NINF: 'negative-infinity',
  PINF: 'positive-infinity',
  NP: 'unknown',
  QS: 'unknown',
  TRC: 'unknown',
  INV: 'unknown',
  DER: 'unknown',
};

/** The data-absent-reason extension for a nullFlavor. */
export function dataAbsentReason(nullFlavor: string): Extension {
  return { url: DATA_ABSENT_REASON_URL, valueCode: NULL_FLAVOR_TO_DAR[nullFlavor] ?? 'unknown' };
}

/** The text of `originalText` (its own text, else the narrative it references). */
export function originalText(node: XNode | undefined, ctx: DatatypeContext): string | undefined {
  if (!node) return undefined;
  return referencedText(child(node, 'originalText'), ctx);
}

/** Own text of an element, else the narrative text its `<reference value="#id"/>` points to. */
export function referencedText(node: XNode | undefined, ctx: DatatypeContext): string | undefined {
  if (!node) return undefined;
  const own = ownText(node);
  if (own) return own;
  const ref = attr(child(node, 'reference'), 'value');
  return ref ? ctx.lookupNarrative(ref) || undefined : undefined;
}

function ownText(node: XNode): string | undefined {
  let text = '';
  for (const kid of kidsOf(node)) {
    if (kid.text !== undefined) text += kid.text;
  }
  if (text === '') return undefined;
  const clean = (text.includes('&') ? decodeXmlEntities(text) : text).replace(/\s+/g, ' ').trim();
  return clean === '' ? undefined : clean;
}

/**
 * Retired or alternate OIDs that real documents still send, read as their current code system
 * (kept here, not in the shared table, so rendering never writes them).
 */
const OID_ALIASES: Record<string, string> = {
  '2.16.840.1.113883.6.59': '2.16.840.1.113883.12.292', // CVX, pre-2012 OID
};

function coding(node: XNode): Coding | undefined {
  const code = attr(node, 'code');
  const system = attr(node, 'codeSystem');
  if (!code || attr(node, 'nullFlavor')) return undefined;
  const out: Coding = {};
  if (system) out.system = systemUriForOid(OID_ALIASES[system] ?? system);
  const version = attr(node, 'codeSystemVersion');
  if (version) out.version = version;
  out.code = code.trim();
  const display = attr(node, 'displayName');
  if (display) out.display = display.trim();
  return out;
}

/** A CD/CE/CV element as a CodeableConcept: primary code first, then translations; nullFlavor as data-absent-reason. */
export function codeableConcept(node: XNode | undefined, ctx: DatatypeContext): CodeableConcept | undefined {
  if (!node) return undefined;
  const codings: Coding[] = [];
  const primary = coding(node);
  if (primary) codings.push(primary);
  for (const translation of children(node, 'translation')) {
    const c = coding(translation);
    if (c) codings.push(c);
  }
  const text = originalText(node, ctx);
  const nullFlavor = attr(node, 'nullFlavor');
  if (codings.length === 0 && !text) {
    return nullFlavor ? { extension: [dataAbsentReason(nullFlavor)] } : undefined;
  }
  const out: CodeableConcept = {};
  if (codings.length === 0 && nullFlavor) out.extension = [dataAbsentReason(nullFlavor)];
  if (codings.length > 0) out.coding = codings;
  const display = text ?? primary?.display;
  if (display) out.text = display;
  return out;
}

/** Whether a code element carries no usable code at all (nullFlavored, no translation, no text). */
export function isNullCode(node: XNode | undefined): boolean {
  if (!node) return true;
  if (attr(node, 'code') && !attr(node, 'nullFlavor')) return false;
  return !children(node, 'translation').some((t) => attr(t, 'code'));
}

const TS = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d+)?([+-]\d{2}(?:\d{2})?|Z)?$/;

/**
 * An HL7 TS as a FHIR dateTime keeping its precision: `2014` -> `2014`, `201401` -> `2014-01`,
 * `20140102103000-0500` -> `2014-01-02T10:30:00-05:00`. FHIR requires a zone when a time is
 * given, so a time without a zone is cut to its date (with a warning) rather than guessed.
 */
export function dateTime(value: string | undefined, ctx: DatatypeContext): string | undefined {
  if (!value) return undefined;
  const m = TS.exec(value.trim());
  if (!m) {
    // A malformed tail (a zone like "-05:00", "+5", letters) does not make the date before it unknown.
    const date = /^(\d{8})/.exec(value.trim())?.[1];
    if (date && TS.test(date)) {
      warnValue(ctx, `Timestamp "${value}" is malformed after its date; kept as the date`);
      return dateTime(date, ctx);
    }
    warnValue(ctx, `Unreadable timestamp "${value}" ignored`);
    return undefined;
  }
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  // Out-of-range parts (month 00, zone -5000) would make an invalid FHIR dateTime: keep the
  // precision that is valid and drop the rest.
  if (y === '0000') {
    warnValue(ctx, `Unreadable timestamp "${value}" ignored`);
    return undefined;
  }
  if (!mo) return y;
  if (+mo < 1 || +mo > 12) {
    warnValue(ctx, `Timestamp "${value}" has an impossible month; kept as the year ${y}`);
    return y;
  }
  if (!d) return `${y}-${mo}`;
  if (+d < 1 || +d > daysInMonth(+y, +mo)) {
    // 2010-04-31 is no day of the calendar: the month is what the sender knew for certain.
    warnValue(ctx, `Timestamp "${value}" has an impossible day; kept as ${y}-${mo}`);
    return `${y}-${mo}`;
  }
  const date = `${y}-${mo}-${d}`;
  if (!h) return date;
  const zoneHours = tz && tz !== 'Z' ? +tz.slice(1, 3) : 0;
  const zoneMinutes = tz && tz.length > 3 ? +tz.slice(3, 5) : 0;
  if (+h > 23 || +(mi ?? 0) > 59 || +(s ?? 0) > 60 || zoneHours > 14 || zoneMinutes > 59) {
    warnValue(ctx, `Timestamp "${value}" has an impossible time or zone; kept as the date ${date}`);
    return date;
  }
  if (!tz) {
    ctx.warn('Timestamps with a time but no time zone were kept as dates (FHIR needs a zone with a time)');
    return date;
  }
  const zone = tz === 'Z' ? 'Z' : `${tz.slice(0, 3)}:${tz.length > 3 ? tz.slice(3, 5) : '00'}`;
  return `${date}T${h}:${mi ?? '00'}:${s ?? '00'}${frac ?? ''}${zone}`;
}

/** An HL7 TS as a FHIR date (birthDate and the like): precision up to the day. */
export function dateOnly(value: string | undefined, ctx: DatatypeContext): string | undefined {
  return dateTime(value?.trim().slice(0, 8), ctx);
}

/** The time value of an element (`value` attribute), as dateTime. */
export function timeOf(node: XNode | undefined, ctx: DatatypeContext): string | undefined {
  return node ? dateTime(attr(node, 'value'), ctx) : undefined;
}

/** An effectiveTime (TS or IVL_TS) as a dateTime or a Period, whichever it holds. */
export function effective(node: XNode | undefined, ctx: DatatypeContext): { dateTime?: string; period?: Period } {
  if (!node) return {};
  const value = attr(node, 'value');
  if (value) return { dateTime: dateTime(value, ctx) };
  const low = timeOf(child(node, 'low'), ctx);
  const high = timeOf(child(node, 'high'), ctx);
  if (low || high) {
    const period: Period = {};
    if (low) period.start = low;
    if (high) period.end = high;
    return { period };
  }
  const center = timeOf(child(node, 'center'), ctx);
  return center ? { dateTime: center } : {};
}

/** The first effectiveTime that is an interval or a point (substanceAdministration repeats it for frequency). */
export function firstEffectiveTime(node: XNode): XNode | undefined {
  for (const et of children(node, 'effectiveTime')) {
    const type = attr(et, 'xsi:type');
    if (!type || type === 'IVL_TS' || type === 'TS') return et;
  }
  return undefined;
}

/** Extensions senders write where they have no id: null-flavor words. */
const PLACEHOLDER_WORDS = new Set(['UNK', 'UNKNOWN', 'NA', 'N/A', 'NI', 'NULL', 'NONE', 'ASKU', 'NAV', 'NASK', 'MSK', 'OTH', 'TBD']);
const NPI_ROOT = '2.16.840.1.113883.4.6';

/**
 * True for an extension that identifies nobody: a null-flavor word, no letter or digit at all, one character
 * four or more times over ('0000', '99999999', '555555555'), or under the NPI root anything but a valid NPI.
 * Taken as an id, such a value makes every practitioner (or entry) that carries it "the same" one, so a
 * document's entries would overwrite each other and different doctors merge across documents.
 */
export function isPlaceholderExtension(root: string, extension: string): boolean {
  if (PLACEHOLDER_WORDS.has(extension.toUpperCase())) return true;
  if (!/[\p{L}\p{N}]/u.test(extension)) return true;
  if (/^(.)\1{3,}$/u.test(extension)) return true;
  return root === NPI_ROOT && !isValidNpi(extension);
}

/** A US NPI: ten digits, the last a Luhn check digit over the first nine with the 80840 prefix. */
export function isValidNpi(value: string): boolean {
  if (!/^\d{10}$/.test(value)) return false;
  let sum = 24; // the prefix 80840's share of the Luhn sum
  for (let i = 0; i < 9; i++) {
    const digit = Number(value[8 - i]);
    const doubled = i % 2 === 0 ? digit * 2 : digit;
    sum += doubled > 9 ? doubled - 9 : doubled;
  }
  return (10 - (sum % 10)) % 10 === Number(value[9]);
}

/** A CDA II as a FHIR Identifier (urn:oid:root + extension; a bare root becomes a URI value). */
export function identifier(node: XNode | undefined): Identifier | undefined {
  if (!node || attr(node, 'nullFlavor')) return undefined;
  const root = attr(node, 'root')?.trim();
  const extension = attr(node, 'extension')?.trim();
  if (!root) return undefined;
  if (extension && isPlaceholderExtension(root, extension)) return undefined;
  if (extension) return { system: systemUriForOid(root), value: extension };
  // A root alone is an identifier in its own right, unless it is a well-known namespace (NPI, SSN, a code
  // system): `<id root="2.16.840.1.113883.4.6"/>` is an NPI left out, and would otherwise make every
  // practitioner without one "the same" person, across documents.
  if (isKnownSystemOid(root)) return undefined;
  const isUuid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(root);
  return { system: 'urn:ietf:rfc:3986', value: isUuid ? `urn:uuid:${root.toLowerCase()}` : `urn:oid:${root}` };
}

/** All usable ids of an element as Identifiers. */
export function identifiers(node: XNode | undefined): Identifier[] {
  const out: Identifier[] = [];
  for (const id of children(node, 'id')) {
    const ident = identifier(id);
    if (ident) out.push(ident);
  }
  return out;
}

/** A PQ as a Quantity with a UCUM unit. */
export function quantity(node: XNode | undefined): Quantity | undefined {
  if (!node || attr(node, 'nullFlavor')) return undefined;
  const raw = attr(node, 'value');
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) return undefined;
  const out: Quantity = { value };
  const unit = attr(node, 'unit')?.trim();
  if (unit) {
    out.unit = unit;
    // A UCUM code has no whitespace: a unit written with spaces ("per min", "mg / dL") is kept as its text only.
    if (!/\s/.test(unit)) {
      out.system = 'http://unitsofmeasure.org';
      out.code = unit;
    }
  }
  return out;
}

/** An IVL_PQ as a Range. */
export function range(node: XNode | undefined): Range | undefined {
  if (!node) return undefined;
  const low = quantity(child(node, 'low'));
  const high = quantity(child(node, 'high'));
  if (!low && !high) return undefined;
  const out: Range = {};
  if (low) out.low = low;
  if (high) out.high = high;
  return out;
}

/** An RTO as a Ratio. */
export function ratio(node: XNode | undefined): Ratio | undefined {
  const numerator = quantity(child(node, 'numerator'));
  const denominator = quantity(child(node, 'denominator'));
  if (!numerator && !denominator) return undefined;
  return { ...(numerator ? { numerator } : {}), ...(denominator ? { denominator } : {}) };
}

const NAME_USE: Record<string, HumanName['use']> = {
  L: 'official',
  C: 'usual',
  P: 'nickname',
  A: 'anonymous',
  ASGN: 'usual',
  PHON: 'usual',
  SRCH: 'usual',
};

/** A PN as a HumanName (a name with only text keeps it as `text`). */
export function humanName(node: XNode | undefined): HumanName | undefined {
  if (!node || attr(node, 'nullFlavor')) return undefined;
  const out: HumanName = {};
  const use = NAME_USE[attr(node, 'use') ?? ''];
  if (use) out.use = use;
  const family = children(node, 'family').map(textOf).filter(Boolean) as string[];
  const given = children(node, 'given').map(textOf).filter(Boolean) as string[];
  const prefix = children(node, 'prefix').map(textOf).filter(Boolean) as string[];
  const suffix = children(node, 'suffix').map(textOf).filter(Boolean) as string[];
  if (family.length) out.family = family.join(' ');
  if (given.length) out.given = given;
  if (prefix.length) out.prefix = prefix;
  if (suffix.length) out.suffix = suffix;
  if (!family.length && !given.length) {
    const text = textOf(node);
    if (!text) return undefined;
    out.text = text;
  }
  return out;
}

const ADDRESS_USE: Record<string, Address['use']> = {
  H: 'home',
  HP: 'home',
  HV: 'home',
  WP: 'work',
  DIR: 'work',
  PUB: 'work',
  TMP: 'temp',
  OLD: 'old',
  BAD: 'old',
};

/** An AD as an Address. */
export function address(node: XNode | undefined): Address | undefined {
  if (!node || attr(node, 'nullFlavor')) return undefined;
  const out: Address = {};
  const use = ADDRESS_USE[attr(node, 'use') ?? ''];
  if (use) out.use = use;
  const lines = children(node, 'streetAddressLine').map(textOf).filter(Boolean) as string[];
  if (lines.length) out.line = lines;
  const city = textOf(child(node, 'city'));
  const state = textOf(child(node, 'state'));
  const postalCode = textOf(child(node, 'postalCode'));
  const country = textOf(child(node, 'country'));
  if (city) out.city = city;
  if (state) out.state = state;
  if (postalCode) out.postalCode = postalCode;
  if (country) out.country = country;
  if (Object.keys(out).length === 0 || (Object.keys(out).length === 1 && out.use)) {
    const text = textOf(node);
    if (!text) return undefined;
    out.text = text;
  }
  return out;
}

const TELECOM_USE: Record<string, ContactPoint['use']> = {
  HP: 'home',
  H: 'home',
  HV: 'home',
  WP: 'work',
  MC: 'mobile',
  TMP: 'temp',
  BAD: 'old',
};

/** A TEL as a ContactPoint (tel:, mailto:, fax:, http: schemes). */
export function contactPoint(node: XNode | undefined): ContactPoint | undefined {
  if (!node || attr(node, 'nullFlavor')) return undefined;
  const raw = attr(node, 'value')?.trim();
  if (!raw) return undefined;
  const out: ContactPoint = {};
  const scheme = /^([a-z]+):/i.exec(raw)?.[1]?.toLowerCase();
  const value = scheme ? raw.slice(scheme.length + 1).replace(/^\/\//, '') : raw;
  out.system = scheme === 'mailto' ? 'email' : scheme === 'fax' ? 'fax' : scheme === 'http' || scheme === 'https' ? 'url' : 'phone';
  out.value = out.system === 'url' ? raw : value;
  const use = TELECOM_USE[attr(node, 'use') ?? ''];
  if (use) out.use = use;
  return out;
}
