import type { RequestHandler } from 'express';

/**
 * CORS for browser apps (SMART on FHIR apps run on their own origin): any origin may call /fhir, since every call
 * carries its bearer token in a header and never a cookie, so a page of another site gets nothing it could not get
 * with the token itself. Preflights are answered here, before authentication.
 */
export function fhirCors(): RequestHandler {
  return (req, res, next) => {
    if (!req.headers.origin) return next();
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'Location, ETag, Last-Modified, Content-Location, X-Request-Id');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE');
      res.setHeader(
        'Access-Control-Allow-Headers',
        'Authorization, Content-Type, Accept, If-Match, If-None-Exist, If-None-Match, Prefer, X-Security-Context',
      );
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
