/**
 * Where emailed links lead: the portal frontend (PORTAL_URL, by default BASE_URL), never an API call a browser cannot
 * make. A link with a secret carries it as the `token` query parameter on the route of the same path as the /auth
 * endpoint that takes it, so without a frontend (PORTAL_URL unset) the link still reaches the API's own description
 * of it (GET /auth/invitations/accept?token=...). The README lists these routes for frontend writers.
 */

/** The frontend routes emailed links open, by what they are for. */
export const PORTAL_ROUTES = Object.freeze({
  /** ?token= : finish a patient's registration (POST /auth/register/confirm). */
  confirmRegistration: '/auth/register/confirm',
  /** ?token= : choose a new password (POST /auth/password/reset). */
  resetPassword: '/auth/password/reset',
  /** ?token= : accept a family invitation or legal authorization (POST /auth/invitations/accept). */
  acceptInvitation: '/auth/invitations/accept',
  /** ?token= : accept a staff enrollment (POST /auth/enrollment/accept). */
  acceptEnrollment: '/auth/enrollment/accept',
  /** The sign-in page. */
  signIn: '/sign-in',
  /** ?patient= : the family access settings of a record. */
  familyAccess: '/family-access',
  /** ?patient= : the record's documents. */
  documents: '/documents',
  /** ?patient= : the record's activity history (views, downloads, transmissions). */
  activity: '/activity',
});

/** A frontend route by name. */
export type PortalRoute = keyof typeof PORTAL_ROUTES;

/** The link to `route` of the portal at `portalUrl` (no trailing slash), with its query parameters. */
export function portalLink(portalUrl: string, route: PortalRoute, query: Record<string, string> = {}): string {
  const url = new URL(`${portalUrl.replace(/\/$/, '')}${PORTAL_ROUTES[route]}`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url.toString();
}
