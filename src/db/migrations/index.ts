import type { Migration } from 'kysely';
import * as resources from './0001-resources';

/** Every migration, in order. Names are permanent: Kysely records them in kysely_migration. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-resources': resources,
};
