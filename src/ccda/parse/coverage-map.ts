import type { Coverage, Organization, Reference } from '@medplum/fhirtypes';
import { codeableConcept, effective, identifiers } from './cda-datatype-readers';
import { compact, related, statusOf } from './entry-common';
import type { ImportContext } from './import-context';
import { mapOrganization } from './participant-map';
import { XNode, attr, child, children, path } from './xml-node';
import type { AnyRef } from './import-context';

/** A coverage activity: one Coverage per policy activity (payer as Organization, member id, dates). */
export function mapCoverageActivity(act: XNode, ctx: ImportContext): AnyRef[] {
  const policies = related(act, 'COMP');
  const list = policies.length ? policies : [act];
  return list.map((policy, index) => mapPolicy(policy, ctx, policies.length ? index + 1 : undefined));
}

function mapPolicy(policy: XNode, ctx: ImportContext, order: number | undefined): AnyRef {
  let payor: Reference<Organization> | undefined;
  let subscriberId: string | undefined;
  let relationship: Coverage['relationship'];
  for (const performer of children(policy, 'performer')) {
    const entity = child(performer, 'assignedEntity');
    const org = mapOrganization(child(entity, 'representedOrganization'), ctx);
    if (org && (attr(performer, 'typeCode') === 'PRF' || !payor)) payor = org;
  }
  for (const participant of children(policy, 'participant')) {
    const typeCode = attr(participant, 'typeCode');
    const role = child(participant, 'participantRole');
    if (typeCode === 'COV') {
      subscriberId = identifiers(role)[0]?.value;
      const rel = attr(child(role, 'code'), 'code');
      if (rel)
        relationship = {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship',
              code: rel === 'SELF' ? 'self' : rel === 'SPS' ? 'spouse' : rel === 'CHILD' ? 'child' : 'other',
            },
          ],
        };
    }
  }
  const time = effective(path(policy, 'participant', 'time'), ctx);
  const type = codeableConcept(child(policy, 'code'), ctx);
  const coverage: Coverage = {
    resourceType: 'Coverage',
    identifier: ctx.claimIdentifiers('Coverage', identifiers(policy)),
    status: statusOf(policy) === 'cancelled' || statusOf(policy) === 'aborted' ? 'cancelled' : 'active',
    type: type?.coding ? type : undefined,
    subscriberId,
    beneficiary: ctx.patientReference,
    relationship,
    period: time.period,
    payor: [payor ?? { display: 'Unknown payer' }],
    order,
  };
  return ctx.add(compact(coverage));
}
