import { createScratchDatabase, type ScratchDatabase } from '../../test/support/scratch-database';

/** The server the benchmark runs against (DATABASE_URL, else the local default). */
export const SERVER_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** Creates `ck_bench_<random>` so a run never touches anyone's data and leaves nothing behind. */
export function createBenchDatabase(serverUrl: string = SERVER_URL): Promise<ScratchDatabase> {
  return createScratchDatabase(serverUrl, 'ck_bench');
}
