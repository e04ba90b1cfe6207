import type { RequestHandler } from 'express';

/**
 * Middleware run one after another as one layer of a router, as Express runs layers of their own: each passes on with
 * next(), or with next(err) to the router's error handlers, and one that throws passes its error on. As one layer
 * under a mount path they cost less: Express strips the mount path from the URL before each layer and puts it back
 * after it, parsing the URL again each time.
 */
export function middlewareChain(...handlers: readonly RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let at = 0;
    const step = (err?: unknown): void => {
      // 'route' ends nothing outside a route, as in Express; 'router' and errors leave the chain.
      if (err && err !== 'route') return next(err);
      const handler = handlers[at++];
      if (!handler) return next();
      try {
        handler(req, res, step);
      } catch (thrown) {
        next(thrown);
      }
    };
    step();
  };
}
