import type { Bundle, Organization, Patient, Resource } from '@medplum/fhirtypes';
import { resourcesFromBundle } from '../../../src/ccda/render/bundle-resources';

/** One demo patient's record, ready for renderCcd. */
export interface DemoCcdInput {
  readonly key: string;
  readonly patient: Patient;
  readonly resources: Resource[];
  readonly custodian: Organization;
}

type DescribeDemoFamily = (today: Date) => {
  bundle: Bundle;
  entries: ReadonlyMap<string, { readonly owner: string; readonly patient?: string }>;
};

/**
 * The demo family (fixtures/demo-family) split into per-patient renderer inputs: each patient's compartment plus
 * everything outside any compartment (practitioners, organizations, locations). Empty when the fixture is absent.
 */
export function demoFamilyCcdInputs(today: Date): DemoCcdInput[] {
  let describeDemoFamily: DescribeDemoFamily | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    describeDemoFamily = require('../../../fixtures/demo-family').describeDemoFamily as DescribeDemoFamily;
  } catch {
    return [];
  }
  const family = describeDemoFamily(today);
  const all = resourcesFromBundle(family.bundle);
  const byUrl = new Map((family.bundle.entry ?? []).map((e, i) => [e.fullUrl as string, all[i]]));
  const custodian = all.find((r): r is Organization => r.resourceType === 'Organization') as Organization;
  const out: DemoCcdInput[] = [];
  for (const key of ['ada', 'ben', 'cara']) {
    const resources: Resource[] = [];
    let patient: Patient | undefined;
    for (const [url, info] of family.entries) {
      const r = byUrl.get(url) as Resource;
      if (info.patient === key || info.patient === undefined) resources.push(r);
      if (r.resourceType === 'Patient' && info.owner === key) patient = r;
    }
    if (patient) out.push({ key, patient, resources, custodian });
  }
  return out;
}
