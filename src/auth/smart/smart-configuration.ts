/**
 * `/.well-known/smart-configuration` (SMART App Launch 2.0 discovery): where apps send the user and get tokens, and
 * what this server supports. The endpoints are oidc-provider's, under the issuer (`/oauth`).
 */

/** The SMART capabilities this server has. */
export const SMART_CAPABILITIES: readonly string[] = [
  'launch-standalone',
  'client-public',
  'client-confidential-asymmetric',
  'context-standalone-patient',
  'permission-v1',
  'permission-v2',
  'permission-patient',
  'permission-user',
  'permission-offline',
  'sso-openid-connect',
];

/** The discovery document of the SMART server whose issuer is `issuer`. */
export function smartConfiguration(issuer: string): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: `${issuer}/jwks`,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/token/revocation`,
    userinfo_endpoint: `${issuer}/me`,
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: [
      'openid',
      'fhirUser',
      'profile',
      'launch/patient',
      'offline_access',
      'online_access',
      'patient/*.rs',
      'patient/*.read',
      'user/*.rs',
      'user/*.read',
      'user/*.cruds',
      'system/*.rs',
      'system/*.read',
    ],
    capabilities: [...SMART_CAPABILITIES],
  };
}
