/**
 * The reduced copies of resources that the billing levels see. A billing-only family member needs the
 * patient's name and birth date to match a statement to a person, and the appointment times to plan a visit;
 * they must not learn diagnoses, reasons for visits or any other clinical detail.
 */
import type { Appointment, ChargeItem, Meta, Patient, Resource } from '@medplum/fhirtypes';
import { type AccessLevel, levelSeesResourceType } from './access-level';

/** Only version bookkeeping survives; security labels and tags could say what the record contains. */
function minimalMeta(meta: Meta | undefined): Meta | undefined {
  if (!meta) {
    return undefined;
  }
  const out: Meta = {};
  if (meta.versionId !== undefined) {
    out.versionId = meta.versionId;
  }
  if (meta.lastUpdated !== undefined) {
    out.lastUpdated = meta.lastUpdated;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Copies the listed fields that are present, in a fixed order, so the output is the same for equal input. */
function pick<T extends object>(source: T, keys: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) {
    if (source[key] !== undefined) {
      out[key] = structuredClone(source[key]);
    }
  }
  return out;
}

/** The Patient as a billing-level caller sees it: id, version, name and birth date, nothing else. */
export function minimalPatient(patient: Patient): Patient {
  const out: Patient = { resourceType: 'Patient', ...pick(patient, ['id']) };
  const meta = minimalMeta(patient.meta);
  if (meta) {
    out.meta = meta;
  }
  Object.assign(out, pick(patient, ['name', 'birthDate']));
  return out;
}

/** An Appointment without its reasons, notes and instructions: when, where, with whom and its status. */
export function minimalAppointment(appointment: Appointment): Appointment {
  const out: Appointment = {
    resourceType: 'Appointment',
    ...pick(appointment, ['id']),
    status: appointment.status,
    participant: (appointment.participant ?? []).map((p) => ({
      ...pick(p, ['type', 'actor', 'required', 'period']),
      status: p.status,
    })),
  };
  const meta = minimalMeta(appointment.meta);
  if (meta) {
    out.meta = meta;
  }
  Object.assign(
    out,
    pick(appointment, [
      'identifier',
      'serviceCategory',
      'serviceType',
      'specialty',
      'appointmentType',
      'start',
      'end',
      'minutesDuration',
      'created',
      'requestedPeriod',
    ]),
  );
  return out;
}

/** A ChargeItem without the diagnoses, body sites, notes and clinical references that justify it. */
export function billingChargeItem(item: ChargeItem): ChargeItem {
  const out: ChargeItem = structuredClone(item);
  delete out.reason;
  delete out.bodysite;
  delete out.note;
  delete out.supportingInformation;
  delete out.service;
  const meta = minimalMeta(item.meta);
  if (meta) {
    out.meta = meta;
  } else {
    delete out.meta;
  }
  return out;
}

/**
 * The version of a resource from the patient's record that a caller at `level` may see, or undefined when
 * they may not see it at all (the caller must then get the same 404 / absence as for a missing resource).
 */
export function viewForLevel<T extends Resource>(level: AccessLevel, resource: T): T | undefined {
  if (level === 'full') {
    return resource;
  }
  if (!levelSeesResourceType(level, resource.resourceType)) {
    return undefined;
  }
  switch (resource.resourceType) {
    case 'Patient':
      return minimalPatient(resource) as T;
    case 'Appointment':
      return minimalAppointment(resource) as T;
    case 'ChargeItem':
      return billingChargeItem(resource) as T;
    default:
      return resource;
  }
}

/**
 * Search parameters a below-full caller may use on the types that are reduced for them. Searching on a field
 * they cannot see would tell them its value by which results come back (Patient?gender=..., Appointment?
 * reason-code=...), so any other parameter on these types must be refused or ignored for them.
 */
export const REDUCED_VIEW_SEARCH_PARAMS: Readonly<Record<'Patient' | 'Appointment' | 'ChargeItem', readonly string[]>> = Object.freeze({
  Patient: Object.freeze(['_id', '_lastUpdated', 'name', 'family', 'given', 'birthdate']),
  Appointment: Object.freeze([
    '_id',
    '_lastUpdated',
    'identifier',
    'date',
    'status',
    'patient',
    'actor',
    'practitioner',
    'location',
    'service-type',
    'appointment-type',
    'specialty',
  ]),
  ChargeItem: Object.freeze([
    '_id',
    '_lastUpdated',
    'identifier',
    'patient',
    'subject',
    'account',
    'code',
    'entered-date',
    'occurrence',
    'price-override',
    'factor-override',
    'quantity',
  ]),
});

/**
 * Result-shaping parameters that cannot reveal hidden fields. `_sort` is not among them: sorting on a hidden
 * field leaks its order, so sort keys must be checked like filters. `_include`/`_revinclude` are the
 * resource layer's job: every included resource passes through `viewForLevel` like any other.
 */
const SHAPING_PARAMS: ReadonlySet<string> = new Set(['_count', '_offset', '_total', '_summary', '_elements', '_format', '_pretty']);

/**
 * True when a caller at `level` may use the search parameter `param` (with or without a `:modifier`, or a
 * `_sort` key without its `-`) on `resourceType`.
 */
export function searchParamAllowedAt(level: AccessLevel, resourceType: string, param: string): boolean {
  if (level === 'full') {
    return true;
  }
  if (!levelSeesResourceType(level, resourceType)) {
    return false;
  }
  const name = param.replace(/^-/, '').split(':')[0];
  if (SHAPING_PARAMS.has(name)) {
    return true;
  }
  const allowed = (REDUCED_VIEW_SEARCH_PARAMS as Record<string, readonly string[] | undefined>)[resourceType];
  return allowed === undefined || allowed.includes(name);
}
