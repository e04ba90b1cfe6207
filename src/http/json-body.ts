import express, { type RequestHandler, type Response } from 'express';
import { checkJsonInput } from '../fhir/input-limits';
import { badRequest } from '../fhir/outcomes';
import { countJsonContainers } from './json-structure-budget';

/**
 * express.json, then the input limits every JSON body must meet (nesting depth, no NUL character), so that no
 * route, validator or database statement ever sees a body that breaks them. Every JSON endpoint parses with this.
 */
export function jsonBody(
  options: Parameters<typeof express.json>[0] & {
    /** The most objects and arrays a body may hold for this request (undefined: no limit), checked before parsing. */
    readonly maxContainers?: (res: Response) => number | undefined;
  },
): RequestHandler {
  const { maxContainers, ...jsonOptions } = options;
  const parse = express.json({
    ...jsonOptions,
    verify: maxContainers
      ? (_req, res, body) => {
          const limit = maxContainers(res as Response);
          if (limit !== undefined && countJsonContainers(body, limit) > limit) {
            throw badRequest(
              `The body holds more than ${limit} JSON objects and arrays, more than this request may`,
              undefined,
              'too-costly',
            );
          }
        }
      : undefined,
  });
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
