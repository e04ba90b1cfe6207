import type { Address, CodeableConcept, Coding, ContactPoint, HumanName, Identifier, Quantity, Resource } from '@medplum/fhirtypes';
import { codeSystemName, oidForSystemUri } from '../code-systems';
import { toHl7Ts } from './hl7-time';
import type { RenderContext } from './render-context';
import type { XmlWriter } from './xml-writer';

/** Options for writing a coded value (CD/CE) from a FHIR CodeableConcept. */
export interface CodeOptions {
  /** xsi:type for `value` elements. */
  readonly xsiType?: 'CD' | 'CE' | 'CO';
  /** Narrative ID the originalText points at (without '#'). */
  readonly textRef?: string;
  /** Code systems (URIs) to prefer as the primary code, in order; the rest become translations. */
  readonly prefer?: readonly string[];
  /** nullFlavor when nothing codable is present. */
  readonly nullFlavor?: string;
  /** Extra translations appended after the ones from the concept (e.g. a template-required LOINC). */
  readonly extraTranslations?: readonly Coding[];
  /**
   * A template requires a translation when the code is not from this system (OID): write
   * `<translation nullFlavor="UNK"/>` when the concept has no other code to offer.
   */
  readonly translationUnlessSystem?: string;
}

/** What a CDA code attribute (CS) may hold: no whitespace at all (a FHIR code may have inner spaces). */
const CDA_CODE = /^[^\s]+$/;

/** Whether a code can go into a CDA @code attribute. */
export function isCdaCode(code: string | undefined): code is string {
  return code !== undefined && CDA_CODE.test(code);
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const OID = /^[0-2](\.(0|[1-9][0-9]*))+$/;

/** Codings whose system has an OID (the only ones C-CDA can carry), primary first. */
export function codableCodings(cc: CodeableConcept | undefined, prefer?: readonly string[]): Coding[] {
  const usable = (cc?.coding ?? []).filter((c) => isCdaCode(c.code) && c.system && oidForSystemUri(c.system));
  if (prefer && usable.length > 1) {
    const rank = (c: Coding): number => {
      const i = prefer.indexOf(c.system as string);
      return i < 0 ? prefer.length : i;
    };
    return [...usable].sort((a, b) => rank(a) - rank(b));
  }
  return usable;
}

/** Human-readable text of a concept: text, else the first display, else the first code. */
export function conceptText(cc: CodeableConcept | undefined): string {
  if (!cc) return '';
  return cc.text ?? cc.coding?.find((c) => c.display)?.display ?? cc.coding?.find((c) => c.code)?.code ?? '';
}

function codingAttrs(c: Coding): Record<string, string | undefined> {
  const oid = oidForSystemUri(c.system as string) as string;
  return { code: c.code, codeSystem: oid, codeSystemName: codeSystemName(oid), displayName: c.display };
}

/** Writes `<tag code=.. codeSystem=..>` (CD) for a concept, translations for the other codings. */
export function writeCode(w: XmlWriter, tag: string, cc: CodeableConcept | undefined, opts: CodeOptions = {}): void {
  const codings = codableCodings(cc, opts.prefer);
  const extra = opts.extraTranslations ?? [];
  const typeAttr = opts.xsiType ? { 'xsi:type': opts.xsiType } : {};
  const text = cc?.text;
  if (codings.length === 0) {
    const hasText = Boolean(text || opts.textRef);
    const nullAttrs = { ...typeAttr, nullFlavor: cc?.coding?.length ? 'OTH' : (opts.nullFlavor ?? 'UNK') };
    if (!hasText && extra.length === 0 && !opts.translationUnlessSystem) {
      w.empty(tag, nullAttrs);
      return;
    }
    w.open(tag, nullAttrs);
    if (hasText) writeOriginalText(w, text, opts.textRef);
    for (const t of extra) w.empty('translation', codingAttrs(t));
    if (opts.translationUnlessSystem && extra.length === 0) w.empty('translation', { nullFlavor: 'UNK' });
    w.close(tag);
    return;
  }
  const [primary, ...rest] = codings;
  const missingTranslation =
    opts.translationUnlessSystem !== undefined &&
    oidForSystemUri(primary.system as string) !== opts.translationUnlessSystem &&
    rest.length === 0 &&
    extra.length === 0;
  const children = Boolean(text || opts.textRef) || rest.length > 0 || extra.length > 0 || missingTranslation;
  if (!children) {
    w.empty(tag, { ...typeAttr, ...codingAttrs(primary) });
    return;
  }
  w.open(tag, { ...typeAttr, ...codingAttrs(primary) });
  if (text || opts.textRef) writeOriginalText(w, text, opts.textRef);
  for (const t of rest) w.empty('translation', codingAttrs(t));
  for (const t of extra) w.empty('translation', codingAttrs(t));
  if (missingTranslation) w.empty('translation', { nullFlavor: 'UNK' });
  w.close(tag);
}

/** Writes a single fixed code (template-mandated codes such as ASSERTION or CONC). */
export function writeFixedCode(w: XmlWriter, tag: string, code: string, codeSystem: string, displayName?: string, xsiType?: string): void {
  w.empty(tag, {
    'xsi:type': xsiType,
    code,
    codeSystem,
    codeSystemName: codeSystemName(codeSystem),
    displayName,
  });
}

function writeOriginalText(w: XmlWriter, text: string | undefined, textRef: string | undefined): void {
  w.open('originalText');
  if (textRef) w.empty('reference', { value: `#${textRef}` });
  else if (text) w.text(text);
  w.close('originalText');
}

/** Writes `<text><reference value="#id"/></text>` pointing at a narrative row. */
export function writeTextRef(w: XmlWriter, ref: string): void {
  w.open('text')
    .empty('reference', { value: `#${ref}` })
    .close('text');
}

/** Writes the id of a FHIR resource: our root, extension "Type/id" (plus an optional suffix). */
export function writeResourceId(w: XmlWriter, ctx: RenderContext, resource: Resource | undefined, suffix?: string): void {
  if (!resource?.id) {
    w.empty('id', { root: ctx.idRoot, extension: ctx.nextLocalId(suffix ?? 'entry') });
    return;
  }
  const ext = `${resource.resourceType}/${resource.id}${suffix ? `#${suffix}` : ''}`;
  w.empty('id', { root: ctx.idRoot, extension: ext });
}

/** Writes an II for a FHIR Identifier when its system maps to an OID or is itself an OID/UUID; returns whether it did. */
export function writeIdentifier(w: XmlWriter, tag: string, identifier: Identifier): boolean {
  const value = identifier.value;
  if (!value) return false;
  const system = identifier.system;
  if (system === 'urn:ietf:rfc:3986') {
    if (value.startsWith('urn:uuid:') && UUID.test(value.slice(9))) {
      w.empty(tag, { root: value.slice(9).toUpperCase() });
      return true;
    }
    if (value.startsWith('urn:oid:') && OID.test(value.slice(8))) {
      w.empty(tag, { root: value.slice(8) });
      return true;
    }
    return false;
  }
  if (!system) return false;
  const oid = oidForSystemUri(system);
  if (!oid || !OID.test(oid)) return false;
  w.empty(tag, { root: oid, extension: value });
  return true;
}

/** Writes a TS element (`nullFlavor` when the value is absent or unusable). */
export function writeTs(w: XmlWriter, tag: string, value: string | undefined, nullFlavor = 'UNK', xsiType?: string): void {
  const ts = toHl7Ts(value);
  w.empty(tag, ts ? { 'xsi:type': xsiType, value: ts } : { 'xsi:type': xsiType, nullFlavor });
}

/** Options for an IVL_TS. */
export interface IntervalOptions {
  readonly xsiType?: boolean;
  /** What an absent high means: omit it, or write it with this nullFlavor. */
  readonly highNullFlavor?: string;
  /** What an absent low means (nullFlavor). */
  readonly lowNullFlavor?: string;
}

/** Writes an IVL_TS with low/high from FHIR dates. */
export function writeInterval(
  w: XmlWriter,
  tag: string,
  low: string | undefined,
  high: string | undefined,
  opts: IntervalOptions = {},
): void {
  w.open(tag, opts.xsiType ? { 'xsi:type': 'IVL_TS' } : undefined);
  writeTs(w, 'low', low, opts.lowNullFlavor ?? 'UNK');
  const h = toHl7Ts(high);
  if (h) w.empty('high', { value: h });
  else if (opts.highNullFlavor) w.empty('high', { nullFlavor: opts.highNullFlavor });
  w.close(tag);
}

const UCUM = 'http://unitsofmeasure.org';

/** A UCUM unit for a FHIR Quantity: its UCUM code, else the unit as a UCUM annotation, else "1". */
export function ucumUnit(q: Quantity): string {
  if (q.system === UCUM && isCdaCode(q.code)) return q.code;
  const u = q.unit ?? q.code;
  if (!u) return '1';
  const cleaned = u.replace(/[^\x21-\x7E]|[{}]/g, '');
  return cleaned ? `{${cleaned}}` : '1';
}

/** A decimal in the form REAL/PQ accept. */
export function decimalText(n: number): string {
  if (!Number.isFinite(n)) return '0';
  const s = String(n);
  if (!s.includes('e')) return s;
  // REAL/PQ values may not use exponents: spell the number out.
  if (Math.abs(n) >= 1) return BigInt(Math.round(n)).toString();
  return n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}

/** Writes a PQ (value + UCUM unit), or nullFlavor when the quantity has no value. */
export function writePq(w: XmlWriter, tag: string, q: Quantity | undefined, xsiType = true): void {
  const t = xsiType ? { 'xsi:type': 'PQ' } : {};
  if (q?.value === undefined) {
    w.empty(tag, { ...t, nullFlavor: 'UNK' });
    return;
  }
  w.empty(tag, { ...t, value: decimalText(q.value), unit: ucumUnit(q) });
}

const ADDRESS_USE: Record<string, string> = { home: 'HP', work: 'WP', temp: 'TMP', billing: 'PST' };

/** Writes a US Realm Address (AD.US.FIELDED); nullFlavor="NI" when there is none. */
export function writeAddr(w: XmlWriter, address: Address | undefined): void {
  if (!address || (!address.line?.length && !address.city && !address.state && !address.postalCode)) {
    w.empty('addr', { nullFlavor: 'NI' });
    return;
  }
  w.open('addr', { use: address.use ? ADDRESS_USE[address.use] : undefined });
  const lines = (address.line ?? []).filter((l) => l.trim()).slice(0, 4);
  if (lines.length === 0) w.empty('streetAddressLine', { nullFlavor: 'NI' });
  for (const line of lines) w.element('streetAddressLine', line);
  if (address.city) w.element('city', address.city);
  else w.empty('city', { nullFlavor: 'NI' });
  const us = !address.country || /^(US|USA|United States)$/i.test(address.country);
  if (address.state) w.element('state', address.state);
  else if (us) w.empty('state', { nullFlavor: 'NI' });
  if (address.postalCode) w.element('postalCode', address.postalCode);
  else if (us) w.empty('postalCode', { nullFlavor: 'NI' });
  if (address.country) w.element('country', address.country);
  w.close('addr');
}

const TELECOM_USE: Record<string, string> = { home: 'HP', work: 'WP', mobile: 'MC', temp: 'TMP' };
const TELECOM_SCHEME: Record<string, string> = { phone: 'tel:', fax: 'fax:', email: 'mailto:', sms: 'tel:', url: '' };

/** Writes one TEL for a ContactPoint; returns false when it has no usable value. */
export function writeTelecom(w: XmlWriter, cp: ContactPoint): boolean {
  if (!cp.value) return false;
  const scheme = TELECOM_SCHEME[cp.system ?? 'phone'] ?? 'tel:';
  const raw = cp.value.replace(/\s+/g, '');
  if (!raw) return false;
  const value = scheme && !raw.toLowerCase().startsWith(scheme) ? scheme + raw : raw;
  w.empty('telecom', { use: cp.use ? TELECOM_USE[cp.use] : undefined, value });
  return true;
}

/** Writes every usable ContactPoint, or one `telecom nullFlavor="NI"` when there are none. */
export function writeTelecoms(w: XmlWriter, cps: readonly ContactPoint[] | undefined, max = Infinity): void {
  let n = 0;
  for (const cp of cps ?? []) {
    if (n >= max) break;
    if (writeTelecom(w, cp)) n++;
  }
  if (n === 0) w.empty('telecom', { nullFlavor: 'NI' });
}

const NAME_USE: Record<string, string> = { official: 'L', usual: 'L', nickname: 'P', anonymous: 'P' };

/**
 * Writes a US Realm Person Name with given/family parts (family nullFlavor when unknown). A name known only as
 * text is split into parts (last word = family), because the patient's name must be fielded (PTN.US.FIELDED).
 */
export function writePersonName(w: XmlWriter, name: HumanName | undefined): void {
  if (name && !name.family && !name.given?.some((g) => g.trim()) && name.text?.trim()) {
    const words = name.text.trim().split(/\s+/);
    const family = words.length > 1 ? words.pop() : undefined;
    name = { use: name.use, given: words, family };
  }
  const given = (name?.given ?? []).filter((g) => g.trim());
  if (!name || (!name.family && given.length === 0)) {
    w.empty('name', { nullFlavor: 'UNK' });
    return;
  }
  w.open('name', { use: name.use ? NAME_USE[name.use] : undefined });
  for (const p of name.prefix ?? []) w.element('prefix', p);
  if (given.length === 0) w.empty('given', { nullFlavor: 'UNK' });
  for (const g of given) w.element('given', g);
  if (name.family) w.element('family', name.family);
  else w.empty('family', { nullFlavor: 'UNK' });
  for (const s of name.suffix ?? []) w.element('suffix', s);
  w.close('name');
}

/** A person's name as one line of narrative text. */
export function nameText(name: HumanName | undefined): string {
  if (!name) return '';
  if (name.text) return name.text;
  return [...(name.prefix ?? []), ...(name.given ?? []), name.family, ...(name.suffix ?? [])].filter(Boolean).join(' ');
}
