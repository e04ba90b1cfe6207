import type { CodeableConcept, Device, Procedure, ServiceRequest } from '@medplum/fhirtypes';
import { codeableConcept, effective, identifiers } from './cda-datatype-readers';
import { authorTime, compact, isNegated, notes, reasons, statementText, statusOf } from './entry-common';
import type { ImportContext } from './import-context';
import { mapAuthors, mapOrganization, mapPerformers, PARTY_TARGETS } from './participant-map';
import { XNode, attr, child, children, path, templateRoots, textOf } from './xml-node';
import type { AnyRef } from './import-context';

const PRODUCT_INSTANCE = '2.16.840.1.113883.10.20.22.4.37';
const PLANNED_MOODS = new Set(['INT', 'RQO', 'PRMS', 'PRP', 'ARQ', 'APT']);

const PROCEDURE_STATUS: Record<string, Procedure['status']> = {
  completed: 'completed',
  active: 'in-progress',
  aborted: 'stopped',
  cancelled: 'not-done',
  new: 'preparation',
  held: 'on-hold',
  suspended: 'on-hold',
  nullified: 'entered-in-error',
};
const REQUEST_STATUS: Record<string, ServiceRequest['status']> = {
  active: 'active',
  new: 'draft',
  completed: 'completed',
  aborted: 'revoked',
  cancelled: 'revoked',
  held: 'on-hold',
  suspended: 'on-hold',
  nullified: 'entered-in-error',
};

function codeOrText(node: XNode, ctx: ImportContext, fallback: string): CodeableConcept {
  const code = codeableConcept(child(node, 'code'), ctx);
  if (code && (code.coding || code.text)) return code;
  return { ...(code ?? {}), text: statementText(node, ctx) ?? fallback };
}

/**
 * A procedure activity (procedure, observation or act) as a Procedure when it happened (EVN),
 * or a ServiceRequest when it is planned/ordered. Negated: status not-done. Devices named as
 * product instances (UDI) become Devices referenced from focalDevice.
 */
export function mapProcedureActivity(node: XNode, ctx: ImportContext, planned = false): AnyRef[] {
  const mood = attr(node, 'moodCode') ?? 'EVN';
  if (planned || PLANNED_MOODS.has(mood)) return [mapServiceRequest(node, ctx, planned ? 'plan' : 'order')];
  const time = effective(child(node, 'effectiveTime'), ctx);
  const devices = productInstances(node, ctx);
  const status = statusOf(node) ?? '';
  const procedure: Procedure = {
    resourceType: 'Procedure',
    identifier: ctx.claimIdentifiers('Procedure', identifiers(node)),
    status: isNegated(node) ? 'not-done' : (PROCEDURE_STATUS[status] ?? 'completed'),
    code: codeOrText(node, ctx, 'Unknown procedure'),
    subject: ctx.patientReference,
    performedDateTime: time.dateTime,
    performedPeriod: time.period,
    recorder: mapAuthors(node, ctx, PARTY_TARGETS.person)[0],
    performer: mapPerformers(node, ctx).map((actor) => ({ actor })),
    reasonCode: reasons(node, ctx),
    bodySite: children(node, 'targetSiteCode')
      .map((n) => codeableConcept(n, ctx))
      .filter((c): c is CodeableConcept => !!c?.coding),
    focalDevice: devices.map((manipulated) => ({ manipulated })),
    note: notes(node, ctx),
  };
  return [ctx.add(compact(procedure)), ...devices];
}

/** A planned or ordered act/procedure/observation/encounter/supply as a ServiceRequest. */
export function mapServiceRequest(node: XNode, ctx: ImportContext, intent: ServiceRequest['intent']): AnyRef {
  const time = effective(child(node, 'effectiveTime'), ctx);
  const request: ServiceRequest = {
    resourceType: 'ServiceRequest',
    identifier: ctx.claimIdentifiers('ServiceRequest', identifiers(node)),
    status: REQUEST_STATUS[statusOf(node) ?? ''] ?? 'active',
    intent,
    doNotPerform: isNegated(node) ? true : undefined,
    code: codeOrText(node, ctx, 'Unknown service'),
    subject: ctx.patientReference,
    occurrenceDateTime: time.dateTime,
    occurrencePeriod: time.period,
    authoredOn: authorTime(node, ctx),
    requester: mapAuthors(node, ctx)[0],
    performer: mapPerformers(node, ctx),
    reasonCode: reasons(node, ctx),
    note: notes(node, ctx),
  };
  return ctx.add(compact(request));
}

/** Devices named by product-instance participants of a statement (implants, equipment; UDI in the id). */
export function productInstances(node: XNode, ctx: ImportContext): AnyRef[] {
  const out: AnyRef[] = [];
  for (const participant of children(node, 'participant')) {
    const role = child(participant, 'participantRole');
    if (!role || !(templateRoots(role).includes(PRODUCT_INSTANCE) || child(role, 'playingDevice'))) continue;
    out.push(mapDeviceRole(role, ctx));
  }
  return out;
}

/** A product instance (participantRole with playingDevice) as a Device; a UDI-looking id is the udiCarrier. */
export function mapDeviceRole(role: XNode, ctx: ImportContext): AnyRef {
  const ids = identifiers(role);
  const udiId = children(role, 'id').find((id) => attr(id, 'root') === '2.16.840.1.113883.3.3719');
  const playing = child(role, 'playingDevice');
  const type = codeableConcept(child(playing, 'code'), ctx);
  const model = textOf(child(playing, 'manufacturerModelName'));
  const device: Device = {
    resourceType: 'Device',
    identifier: ctx.claimIdentifiers('Device', ids),
    udiCarrier: udiId
      ? [
          {
            deviceIdentifier: attr(udiId, 'extension'),
            carrierHRF: attr(udiId, 'extension'),
            issuer: 'http://hl7.org/fhir/NamingSystem/fda-udi',
          },
        ]
      : undefined,
    type: type && (type.coding || type.text) ? type : undefined,
    modelNumber: model,
    patient: ctx.patientReference,
    owner: mapOrganization(path(role, 'scopingEntity'), ctx),
  };
  return ctx.add(compact(device));
}

/** A supply (medical equipment) as the Device(s) it names, else a ServiceRequest-free Device from its product. */
export function mapSupply(supply: XNode, ctx: ImportContext): AnyRef[] {
  const devices = productInstances(supply, ctx);
  if (devices.length) return devices;
  const product =
    path(supply, 'product', 'manufacturedProduct', 'manufacturedMaterial') ??
    path(supply, 'participant', 'participantRole', 'playingDevice');
  const type = codeableConcept(child(product, 'code'), ctx);
  const device: Device = {
    resourceType: 'Device',
    identifier: ctx.claimIdentifiers('Device', identifiers(supply)),
    type: type && (type.coding || type.text) ? type : { text: statementText(supply, ctx) ?? 'Unknown device' },
    patient: ctx.patientReference,
  };
  return [ctx.add(compact(device))];
}
