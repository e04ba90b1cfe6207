import type { RequestHandler } from 'express';
import type { Caller } from '../access/caller';
import { allowedBeforeConsent, consentRequiredError } from '../portal/enrollment/consent-required';

/**
 * Refuses every /fhir request of a portal account that has not completed the current portal consent form (the
 * caller says so: Caller.consentRequired) with the 403 `consent-required`, except reading the form and answering it.
 * The account's scope shows no record meanwhile, so this is the answer, not the protection.
 */
export function consentGate(fhirBase: string): RequestHandler {
  return (req, res, next) => {
    const required = (res.locals.caller as Caller | undefined)?.consentRequired;
    if (!required || allowedBeforeConsent(req.method, req.path, required)) return next();
    next(consentRequiredError(required, fhirBase));
  };
}
