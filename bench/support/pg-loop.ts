import { Pool } from 'pg';
import { LoadResult, quantile } from './load-stats';

/**
 * Reference (1): `concurrency` loops, each awaiting one primary-key SELECT after another through a
 * pg Pool of `poolSize` clients (the size the app uses), for `seconds`. No HTTP, no framework.
 */
export async function runPgLoop(options: {
  url: string;
  ids: readonly string[];
  type: string;
  concurrency: number;
  poolSize: number;
  seconds: number;
  label: string;
}): Promise<LoadResult> {
  const pool = new Pool({ connectionString: options.url, max: options.poolSize });
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const query = 'select content from resource where resource_type = $1 and id = $2';
  try {
    // Warm every client first so connection setup is not measured.
    await Promise.all(Array.from({ length: options.poolSize }, () => pool.query('select 1')));
    const started = performance.now();
    const deadline = started + options.seconds * 1000;
    const loop = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          const { rows } = await pool.query(query, [options.type, options.ids[next++ % options.ids.length]]);
          if (rows.length !== 1) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, loop));
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      label: options.label,
      rate: latencies.length / elapsed,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      errors,
      non2xx: 0,
      requests: latencies.length,
    };
  } finally {
    await pool.end();
  }
}
