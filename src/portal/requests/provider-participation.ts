/**
 * Whether a provider takes part in the patient portal (the seed: "If you do not see your physician as an option for
 * appointments, medication renewals or communications they are not currently setup for the Patient Portal"). A
 * Practitioner or PractitionerRole says so with the portal-participation extension (fhir-profiles/); without it,
 * it takes part. An inactive one never does, and a role takes part only while its practitioner does.
 */
import type { Practitioner, PractitionerRole, Reference } from '@medplum/fhirtypes';

/** The extension a Practitioner or PractitionerRole carries to say whether it takes part in the portal. */
export const PORTAL_PARTICIPATION_URL = 'https://chartkeeper.example/fhir/StructureDefinition/portal-participation';

/** Whether this Practitioner or PractitionerRole, by itself, takes part: active, and not set not to. */
export function takesPart(provider: Practitioner | PractitionerRole | undefined): boolean {
  if (!provider || provider.active === false) return false;
  const flag = provider.extension?.find((e) => e.url === PORTAL_PARTICIPATION_URL);
  return flag?.valueBoolean !== false;
}

/** Reads a provider the writer may see (Practitioner and PractitionerRole are shared types). */
export type ProviderReader = <T extends Practitioner | PractitionerRole>(type: T['resourceType'], id: string) => Promise<T | undefined>;

/** What a reference to a provider resolves to, for the portal's rules. */
export interface ResolvedProvider {
  readonly reference: string;
  readonly practitioner?: Practitioner;
  readonly role?: PractitionerRole;
  /** The provider and (for a role) its practitioner both take part. */
  readonly takesPart: boolean;
}

/** Resolves `Practitioner/x` or `PractitionerRole/y`; undefined for any other reference or one that does not exist. */
export async function resolveProvider(reference: Reference | undefined, read: ProviderReader): Promise<ResolvedProvider | undefined> {
  const match = /^(Practitioner|PractitionerRole)\/([A-Za-z0-9\-.]{1,64})$/.exec(reference?.reference ?? '');
  if (!match) return undefined;
  if (match[1] === 'Practitioner') {
    const practitioner = await read<Practitioner>('Practitioner', match[2]);
    return practitioner ? { reference: match[0], practitioner, takesPart: takesPart(practitioner) } : undefined;
  }
  const role = await read<PractitionerRole>('PractitionerRole', match[2]);
  if (!role) return undefined;
  const practitionerId = /^Practitioner\/([A-Za-z0-9\-.]{1,64})$/.exec(role.practitioner?.reference ?? '')?.[1];
  const practitioner = practitionerId ? await read<Practitioner>('Practitioner', practitionerId) : undefined;
  return { reference: match[0], role, practitioner, takesPart: takesPart(role) && (!practitionerId || takesPart(practitioner)) };
}

/** The sentence every refusal names: why a provider cannot be chosen. */
export function notTakingPartText(what: string, reference: string): string {
  return (
    `${what} (${reference}) does not take part in the patient portal (inactive, or not set up for it): ` +
    'choose another provider, or write to the practice'
  );
}
