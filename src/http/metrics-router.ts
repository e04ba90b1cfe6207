import { createHash, timingSafeEqual } from 'node:crypto';
import { type RequestHandler, Router } from 'express';
import { forbidden, notFound, unauthorized } from '../fhir/outcomes';
import { routeLabel } from './metrics-route-label';
import type { ServiceMetrics } from './metrics-registry';

/**
 * GET /metrics in Prometheus text format, for a scraper holding `token` (`Authorization: Bearer <token>`). Without
 * a token configured the endpoint does not exist (404), so metrics are never public by accident.
 */
export function metricsRouter(metrics: ServiceMetrics, token: string | undefined): Router {
  const router = Router();
  router.get('/metrics', (req, res, next) => {
    if (!token) return next(notFound('Endpoint'));
    const presented = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!presented) return next(unauthorized('GET /metrics needs the METRICS_TOKEN as a bearer token'));
    if (!sameSecret(presented, token)) return next(forbidden('The metrics token is wrong'));
    metrics.registry.metrics().then((text) => {
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.end(text);
    }, next);
  });
  return router;
}

/** Counts every request by route and status once its response is sent (or the client went away). */
export function requestMetrics(metrics: ServiceMetrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const path = req.path;
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observeRequest(req.method, routeLabel(path, res.statusCode), res.statusCode, seconds);
    });
    next();
  };
}

// Hashing both sides first gives equal lengths, which timingSafeEqual needs, without revealing the token's length.
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
