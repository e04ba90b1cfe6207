/**
 * SMART on FHIR over HTTP: discovery (`/.well-known/smart-configuration`, also under /fhir), the sign-in, record
 * choice and consent pages of an authorization (`/oauth/interaction/:uid`), and oidc-provider itself under /oauth.
 * The rules live in src/auth/smart/; this file only moves requests and pages.
 */
import express, { type Request, type Response, Router } from 'express';
import type { SmartAuthorization } from '../auth/smart/smart-authorization';
import { smartConfiguration } from '../auth/smart/smart-configuration';
import type { SmartServer } from '../auth/smart/smart-provider';
import { FhirError } from '../fhir/outcomes';
import { asyncHandler } from './async-handler';
import { consentPage, loginPage, pagePolicy } from './oauth-pages';

/** A sign-in form is two short fields; anything bigger is not a person typing. */
const FORM_LIMIT = '8kb';

/** The staff's patient search on the consent page (`?q=`), at most 100 characters. */
function searchText(req: Request): string {
  const q = req.query.q;
  return typeof q === 'string' ? q.slice(0, 100) : '';
}

/** `/.well-known/smart-configuration` and `/fhir/.well-known/smart-configuration`, open to anyone. */
export function smartDiscoveryRouter(smart: SmartServer): Router {
  const router = Router();
  const send = (_req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.json(smartConfiguration(smart.issuer));
  };
  router.get('/.well-known/smart-configuration', send);
  router.get('/fhir/.well-known/smart-configuration', send);
  return router;
}

/** The authorization server under /oauth: our interaction pages first, then everything oidc-provider serves. */
export function smartOauthRouter(smart: SmartServer, authorization: SmartAuthorization): Router {
  const router = Router();
  const { provider } = smart;
  const form = express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 10 });
  const address = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';
  const clientName = async (clientId: unknown): Promise<string> => {
    const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
    const name = client?.clientName ?? clientId;
    return typeof name === 'string' ? name : 'An app';
  };
  const show = (res: Response, status: number, redirectUri: unknown, html: string) => {
    res.status(status).setHeader('Content-Security-Policy', pagePolicy(redirectUri));
    res.type('html').send(html);
  };
  const renderConsent = async (req: Request, res: Response, status = 200, error?: string) => {
    const details = await provider.interactionDetails(req, res);
    const accountId = details.session?.accountId as string;
    const scope = textParam(details.params.scope);
    const staffSearch =
      authorization.needsPatient(scope) && (await authorization.isStaff(accountId)) ? { query: searchText(req) } : undefined;
    const choices = !authorization.needsPatient(scope)
      ? undefined
      : staffSearch
        ? await authorization.staffPatientChoices(accountId, staffSearch.query)
        : await authorization.patientChoices(accountId);
    // Staff have not chosen yet when the page is drawn: the plan shows what the patient/ scopes will give once they have.
    const plan = await authorization.plan(accountId, scope, choices?.length ? choices[0].id : staffSearch ? 'to-be-chosen' : undefined);
    show(
      res,
      status,
      details.params.redirect_uri,
      consentPage(details.uid, await clientName(details.params.client_id), plan, choices, error, staffSearch),
    );
  };

  router.get(
    '/interaction/:uid',
    asyncHandler(async (req, res) => {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        show(res, 200, details.params.redirect_uri, loginPage(details.uid, await clientName(details.params.client_id)));
        return;
      }
      await renderConsent(req, res);
    }),
  );

  router.post(
    '/interaction/:uid/login',
    form,
    asyncHandler(async (req, res) => {
      const details = await provider.interactionDetails(req, res);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const email = typeof body.email === 'string' ? body.email.slice(0, 254) : '';
      const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
      try {
        const account = await authorization.signIn(email, password, address(req));
        await provider.interactionFinished(req, res, { login: { accountId: account.id } }, { mergeWithLastSubmission: false });
      } catch (err) {
        if (!(err instanceof FhirError)) throw err;
        const text = err.outcome.issue?.[0]?.details?.text ?? 'Sign-in failed';
        show(res, err.status, details.params.redirect_uri, loginPage(details.uid, await clientName(details.params.client_id), text));
      }
    }),
  );

  router.post(
    '/interaction/:uid/consent',
    form,
    asyncHandler(async (req, res) => {
      const details = await provider.interactionDetails(req, res);
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (body.decision !== 'approve') {
        await provider.interactionFinished(
          req,
          res,
          { error: 'access_denied', error_description: 'The user did not allow access' },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      try {
        const grantId = await authorization.approve({
          accountId: details.session?.accountId as string,
          clientId: String(details.params.client_id),
          scope: textParam(details.params.scope),
          patient: typeof body.patient === 'string' ? body.patient : undefined,
          grantId: details.grantId,
        });
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      } catch (err) {
        if (!(err instanceof FhirError)) throw err;
        await renderConsent(req, res, err.status, err.outcome.issue?.[0]?.details?.text);
      }
    }),
  );

  router.post(
    '/interaction/:uid/abort',
    asyncHandler(async (req, res) => {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled the sign-in' },
        { mergeWithLastSubmission: false },
      );
    }),
  );

  const callback = provider.callback();
  router.use((req, res, next) => {
    callback(req, res).catch(next);
  });
  return router;
}

/** An interaction parameter as text ('' when absent); oidc-provider has checked the ones it knows to be strings. */
function textParam(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
