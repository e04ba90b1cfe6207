import type { Observation, ObservationComponent, ObservationReferenceRange, Quantity, Range } from '@medplum/fhirtypes';
import { printedUnit } from './printed-unit';
import { conceptText, decimalText, isCdaCode, writeCode, writePq, ucumUnit } from './cda-datatype-writers';
import { toHl7Ts } from './hl7-time';
import type { XmlWriter } from './xml-writer';

/** The value[x] fields an Observation and its components share. */
export type ObservationValue = Pick<
  Observation | ObservationComponent,
  | 'valueQuantity'
  | 'valueCodeableConcept'
  | 'valueString'
  | 'valueBoolean'
  | 'valueInteger'
  | 'valueRange'
  | 'valueDateTime'
  | 'valuePeriod'
  | 'valueTime'
  | 'valueRatio'
  | 'dataAbsentReason'
>;

/** True when the observation (or component) carries any value. */
export function hasValue(v: ObservationValue): boolean {
  return (
    v.valueQuantity !== undefined ||
    v.valueCodeableConcept !== undefined ||
    v.valueString !== undefined ||
    v.valueBoolean !== undefined ||
    v.valueInteger !== undefined ||
    v.valueRange !== undefined ||
    v.valueDateTime !== undefined ||
    v.valuePeriod !== undefined ||
    v.valueTime !== undefined ||
    v.valueRatio !== undefined
  );
}

function quantityText(q: Quantity | undefined): string {
  if (q?.value === undefined) return '';
  const unit = printedUnit(q.unit ?? q.code ?? '');
  return `${decimalText(q.value)}${unit ? ` ${unit}` : ''}`;
}

function rangeText(r: Range): string {
  const low = quantityText(r.low);
  const high = quantityText(r.high);
  if (low && high) return `${low} - ${high}`;
  if (low) return `>= ${low}`;
  if (high) return `<= ${high}`;
  return '';
}

/** A reference range as people read it: its text, else "4 - 5.6 %", ">= 40 mg/dL" or "<= 200 mg/dL". */
export function referenceRangeText(ranges: readonly ObservationReferenceRange[] | undefined): string {
  return (ranges ?? [])
    .map((r) => r.text ?? rangeText({ low: r.low, high: r.high }))
    .filter(Boolean)
    .join('; ');
}

/** The value as narrative text ("7.2 mg/dL", "Positive", "120 - 140 mmHg"). */
export function valueText(v: ObservationValue): string {
  if (v.valueQuantity) return quantityText(v.valueQuantity);
  if (v.valueCodeableConcept) return conceptText(v.valueCodeableConcept);
  if (v.valueString !== undefined) return v.valueString;
  if (v.valueBoolean !== undefined) return v.valueBoolean ? 'Yes' : 'No';
  if (v.valueInteger !== undefined) return String(v.valueInteger);
  if (v.valueRange) return rangeText(v.valueRange);
  if (v.valueDateTime) return v.valueDateTime;
  if (v.valuePeriod) return `${v.valuePeriod.start ?? ''} - ${v.valuePeriod.end ?? ''}`;
  if (v.valueTime) return v.valueTime;
  if (v.valueRatio) return `${quantityText(v.valueRatio.numerator)} / ${quantityText(v.valueRatio.denominator)}`;
  if (v.dataAbsentReason) return conceptText(v.dataAbsentReason);
  return '';
}

function writeIvlPq(w: XmlWriter, tag: string, r: Range, xsiType: boolean): void {
  w.open(tag, xsiType ? { 'xsi:type': 'IVL_PQ' } : undefined);
  if (r.low?.value !== undefined) w.empty('low', { value: decimalText(r.low.value), unit: ucumUnit(r.low) });
  if (r.high?.value !== undefined) w.empty('high', { value: decimalText(r.high.value), unit: ucumUnit(r.high) });
  w.close(tag);
}

/** Writes `<value xsi:type=..>` for any FHIR value[x]; a nullFlavor value when there is none. */
export function writeObservationValue(w: XmlWriter, v: ObservationValue, textRef?: string): void {
  if (v.valueQuantity) return writePq(w, 'value', v.valueQuantity);
  if (v.valueCodeableConcept) return writeCode(w, 'value', v.valueCodeableConcept, { xsiType: 'CD', textRef });
  if (v.valueString !== undefined) {
    w.element('value', v.valueString, { 'xsi:type': 'ST' });
    return;
  }
  if (v.valueBoolean !== undefined) {
    w.empty('value', { 'xsi:type': 'BL', value: String(v.valueBoolean) });
    return;
  }
  if (v.valueInteger !== undefined) {
    w.empty('value', { 'xsi:type': 'INT', value: String(v.valueInteger) });
    return;
  }
  if (v.valueRange) return writeIvlPq(w, 'value', v.valueRange, true);
  const ts = toHl7Ts(v.valueDateTime);
  if (ts) {
    w.empty('value', { 'xsi:type': 'TS', value: ts });
    return;
  }
  const text = valueText(v);
  if (text) {
    w.element('value', text, { 'xsi:type': 'ST' });
    return;
  }
  w.empty('value', { 'xsi:type': 'CD', nullFlavor: 'NI' });
}

const INTERPRETATION_URI = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';

/** Writes interpretationCode (HL7 ObservationInterpretation codes only; others are not carried). */
export function writeInterpretation(w: XmlWriter, o: Observation): void {
  for (const cc of o.interpretation ?? []) {
    const c = cc.coding?.find((x) => x.system === INTERPRETATION_URI && isCdaCode(x.code));
    if (c) w.empty('interpretationCode', { code: c.code, codeSystem: '2.16.840.1.113883.5.83', displayName: c.display });
  }
}

/** Writes referenceRange/observationRange for ranges with numbers or text. */
export function writeReferenceRanges(w: XmlWriter, ranges: readonly ObservationReferenceRange[] | undefined): void {
  for (const r of ranges ?? []) {
    if (r.low?.value === undefined && r.high?.value === undefined && !r.text) continue;
    w.open('referenceRange').open('observationRange');
    if (r.text) w.element('text', r.text);
    if (r.low?.value !== undefined || r.high?.value !== undefined) writeIvlPq(w, 'value', { low: r.low, high: r.high }, true);
    else w.element('value', r.text ?? '', { 'xsi:type': 'ST' });
    w.close('observationRange').close('referenceRange');
  }
}
