import express, { type RequestHandler } from 'express';
import { checkJsonInput } from '../fhir/input-limits';

/**
 * express.json, then the input limits every JSON body must meet (nesting depth, no NUL character), so that no
 * route, validator or database statement ever sees a body that breaks them. Every JSON endpoint parses with this.
 */
export function jsonBody(options: Parameters<typeof express.json>[0]): RequestHandler {
  const parse = express.json(options);
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err) return next(err);
      try {
        checkJsonInput(req.body);
      } catch (refused) {
        return next(refused);
      }
      next();
    });
  };
}
