/**
 * What a client learns from GET /fhir/metadata about the portal's rules: which age policy is active (an extension on
 * the CapabilityStatement, and the sentence people read in `implementation.description`), and whether the portal
 * consent form is asked, so a frontend can show the right levels and screens before anyone signs in.
 */
import type { CapabilityStatement } from '@medplum/fhirtypes';
import type { AgePolicy } from '../../access/age-policy-profiles';

/** Extension on the CapabilityStatement: the active age policy (valueCode westmed | westchester). */
export const AGE_POLICY_EXTENSION = 'https://chartkeeper.example/fhir/StructureDefinition/age-policy';
/** Extension on the CapabilityStatement: whether portal accounts complete the consent form (valueBoolean). */
export const PORTAL_CONSENT_EXTENSION = 'https://chartkeeper.example/fhir/StructureDefinition/portal-consent-required';

/** The CapabilityStatement with the active policy stated. */
export function withPortalPolicy(capability: CapabilityStatement, policy: AgePolicy, consentRequired: boolean): CapabilityStatement {
  const description = capability.implementation?.description ?? 'Chartkeeper FHIR R4 server';
  return {
    ...capability,
    extension: [
      ...(capability.extension ?? []),
      { url: AGE_POLICY_EXTENSION, valueCode: policy.name },
      { url: PORTAL_CONSENT_EXTENSION, valueBoolean: consentRequired },
    ],
    implementation: {
      ...capability.implementation,
      description:
        `${description}. Age policy: ${policy.name} (family access levels offered: ${policy.grantLevels.join(', ')}). ${policy.summary}` +
        (consentRequired ? ' Portal accounts complete the portal consent form (Questionnaire/portal-consent) first.' : ''),
    },
  };
}
