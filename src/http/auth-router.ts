/**
 * /auth: registration, sign-in, sessions, password reset, invitation and enrollment acceptance. The router
 * only translates HTTP: every rule lives in the account services. Errors are OperationOutcomes like the rest of
 * the API; a throttled request also gets `Retry-After`.
 */
import { type Request, Router } from 'express';
import type { AccountServices } from '../portal/account-services';
import type { Account } from '../auth/account-store';
import { accountSummary } from '../auth/session-service';
import { appGrantsOf, revokeAppGrants } from '../auth/smart/smart-app-grants';
import { badRequest, unauthorized } from '../fhir/outcomes';
import { asyncHandler } from './async-handler';
import { bearerToken } from './authenticate';
import { jsonBody } from './json-body';

/** Bodies of account requests are small; anything bigger is not a person typing. */
const AUTH_JSON_LIMIT = '16kb';

/** Builds the /auth router over the account services. */
export function authRouter(services: AccountServices): Router {
  const router = Router();
  router.use(jsonBody({ limit: AUTH_JSON_LIMIT, type: ['application/json', 'application/fhir+json'], strict: true }));
  const address = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';
  const signedIn = async (req: Request): Promise<Account | undefined> => {
    if (!req.headers.authorization) return undefined;
    const token = bearerToken(req.headers.authorization);
    if (!token) throw unauthorized('The Authorization header must be "Bearer <access token>"');
    return (await services.sessions.accountOfAccessToken(token)).account;
  };
  const requireSignedIn = async (req: Request): Promise<Account> => {
    const account = await signedIn(req);
    if (!account) throw unauthorized('Sign in first: this needs Authorization: Bearer <access token>');
    return account;
  };

  router.post(
    '/register',
    asyncHandler(async (req, res) => {
      const role = (req.body as { role?: unknown } | undefined)?.role;
      if (role === 'patient') {
        res.status(202).json(await services.registration.registerPatient(req.body, address(req)));
      } else if (role === 'family-member') {
        res.status(202).json(await services.familyAccess.requestAsNewFamilyMember(req.body, address(req)));
      } else {
        throw badRequest('role must be "patient" (I am the patient) or "family-member" (I am the patient’s family member)', 'role');
      }
    }),
  );

  router.post(
    '/register/confirm',
    asyncHandler(async (req, res) => {
      res.status(201).json(await services.registration.confirm(req.body));
    }),
  );

  router.post(
    '/passcode/redeem',
    asyncHandler(async (req, res) => {
      const result = await services.familyAccess.redeemAsNewFamilyMember(req.body, address(req));
      res.status(201).json({ consentId: result.consentId, patientId: result.patientId, ...result.session });
    }),
  );

  router.post(
    '/login',
    asyncHandler(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body.email !== 'string' || body.email.trim() === '') throw badRequest('email is required', 'email');
      if (typeof body.password !== 'string' || body.password === '') throw badRequest('password is required', 'password');
      if (body.email.length > 254 || body.password.length > 1024) throw unauthorized('The email or password is not correct.');
      res.json(await services.sessions.login({ email: body.email, password: body.password, address: address(req) }));
    }),
  );

  router.post(
    '/refresh',
    asyncHandler(async (req, res) => {
      res.json(await services.sessions.refresh(refreshTokenOf(req)));
    }),
  );

  // With the refresh token in the body, or else the session of the bearer access token.
  router.post(
    '/logout',
    asyncHandler(async (req, res) => {
      const bearer = bearerToken(req.headers.authorization);
      const body = req.body as { refresh_token?: unknown } | undefined;
      if (body?.refresh_token === undefined && bearer) await services.sessions.logoutAccessToken(bearer);
      else await services.sessions.logout(refreshTokenOf(req, 'refresh_token (or Authorization: Bearer <access token>) is required'));
      res.status(204).end();
    }),
  );

  router.get(
    '/me',
    asyncHandler(async (req, res) => {
      const account = await requireSignedIn(req);
      res.json({
        ...accountSummary(account),
        ...(account.kind === 'patient' ? { records: await services.practices.recordsOf(account) } : {}),
      });
    }),
  );

  // The SMART apps the account let in (src/auth/smart/smart-app-grants.ts; as FHIR: $smart-apps, $revoke-smart-app).
  router.get(
    '/apps',
    asyncHandler(async (req, res) => {
      res.json({ apps: await appGrantsOf(services.context.db, (await requireSignedIn(req)).id) });
    }),
  );

  router.delete(
    '/apps/:clientId',
    asyncHandler(async (req, res) => {
      await revokeAppGrants(services.context.db, (await requireSignedIn(req)).id, req.params.clientId);
      res.status(204).end();
    }),
  );

  router.post(
    '/practices/enroll',
    asyncHandler(async (req, res) => {
      res.status(201).json(await services.practices.enroll(await requireSignedIn(req), req.body, address(req)));
    }),
  );

  router.post(
    '/security-option',
    asyncHandler(async (req, res) => {
      await services.passwordReset.setSecurityOption(await requireSignedIn(req), req.body);
      res.status(204).end();
    }),
  );

  router.post(
    '/password/forgot',
    asyncHandler(async (req, res) => {
      res.status(202).json(await services.passwordReset.forgot(req.body, address(req)));
    }),
  );

  router.get(
    '/password/reset',
    asyncHandler(async (req, res) => {
      const link = await services.passwordReset.describeLink(queryToken(req));
      res.json({ ...link, next: 'POST /auth/password/reset with token, password and passwordConfirmation' });
    }),
  );

  router.post(
    '/password/reset',
    asyncHandler(async (req, res) => {
      const result = await services.passwordReset.reset(req.body, address(req));
      res.json('challenge' in result ? result.challenge : result.session);
    }),
  );

  router.post(
    '/password/verify',
    asyncHandler(async (req, res) => {
      res.json(await services.passwordReset.verify(req.body, address(req)));
    }),
  );

  router.get(
    '/invitations/accept',
    asyncHandler(async (req, res) => {
      res.json(await services.invitations.describe(queryToken(req)));
    }),
  );

  router.post(
    '/invitations/accept',
    asyncHandler(async (req, res) => {
      const result = await services.invitations.accept(req.body, address(req), await signedIn(req));
      res.status(result.accountCreated ? 201 : 200).json({ consentId: result.consentId, patientId: result.patientId, ...result.session });
    }),
  );

  router.get(
    '/enrollment/accept',
    asyncHandler(async (req, res) => {
      res.json(await services.enrollment.describe(queryToken(req)));
    }),
  );

  router.post(
    '/enrollment/accept',
    asyncHandler(async (req, res) => {
      res.status(201).json(await services.enrollment.accept(req.body));
    }),
  );

  return router;
}

function refreshTokenOf(req: Request, missing = 'refresh_token is required'): string {
  const token = (req.body as { refresh_token?: unknown } | undefined)?.refresh_token;
  if (typeof token !== 'string' || token === '' || token.length > 256) throw badRequest(missing, 'refresh_token');
  return token;
}

function queryToken(req: Request): string {
  const token = req.query.token;
  if (typeof token !== 'string' || token === '' || token.length > 256)
    throw badRequest('The link has no token: open the whole link from the email', 'token');
  return token;
}
