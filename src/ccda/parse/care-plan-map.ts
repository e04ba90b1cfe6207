import type { CarePlan } from '@medplum/fhirtypes';
import type { AnyRef, ImportContext } from './import-context';

/** Request resources a CarePlan activity may point to. */
const ACTIVITY_TYPES = new Set([
  'ServiceRequest',
  'MedicationRequest',
  'CommunicationRequest',
  'DeviceRequest',
  'NutritionOrder',
  'Task',
  'Appointment',
]);

/**
 * The plan of treatment as a whole: one CarePlan (intent plan) whose activities reference the
 * requests made from the section's entries and whose goals are the section's Goals. Made only
 * when the section produced such resources; the per-entry resources stay the source of truth.
 */
export function mapPlanOfTreatment(refs: readonly AnyRef[], title: string | undefined, ctx: ImportContext): AnyRef | undefined {
  const typeOf = (ref: AnyRef): string | undefined => ctx.resources.find((r) => r.fullUrl === ref.reference)?.resource.resourceType;
  const activities = refs.filter((r) => ACTIVITY_TYPES.has(typeOf(r) ?? ''));
  const goals = refs.filter((r) => typeOf(r) === 'Goal');
  if (activities.length === 0 && goals.length === 0) return undefined;
  const plan: CarePlan = {
    resourceType: 'CarePlan',
    identifier: ctx.claimIdentifiers('CarePlan', []),
    status: 'active',
    intent: 'plan',
    category: [
      {
        coding: [
          {
            system: 'http://hl7.org/fhir/us/core/CodeSystem/careplan-category',
            code: 'assess-plan',
            display: 'Assessment and Plan of Treatment',
          },
        ],
      },
    ],
    title: title ?? 'Plan of treatment',
    subject: ctx.patientReference,
  };
  if (goals.length) plan.goal = goals;
  if (activities.length) plan.activity = activities.map((reference) => ({ reference }));
  return ctx.add(plan);
}
