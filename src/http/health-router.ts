import { Router } from 'express';
import type { Database } from '../db/database';
import { isMigrated } from '../db/migrator';
import { asyncHandler } from './async-handler';

/** /healthz: the process is up. /readyz: the database answers and every migration is applied. */
export function healthRouter(database: Database): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get(
    '/readyz',
    asyncHandler(async (_req, res) => {
      const reachable = await database.ping();
      const migrated = reachable && (await isMigrated(database.db).catch(() => false));
      res
        .status(reachable && migrated ? 200 : 503)
        .json({ status: reachable && migrated ? 'ready' : 'not ready', database: reachable, migrated });
    }),
  );
  return router;
}
