import type { LoadResult } from './load-stats';

/** The part of autocannon's result this benchmark reads (the package ships no types). */
interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (options: Record<string, unknown>) => Promise<AutocannonResult>;

/** One HTTP load run: `connections` keep-alive connections cycling through `paths` for `seconds`. */
export interface HttpLoad {
  readonly label: string;
  readonly url: string;
  readonly paths: readonly string[];
  readonly headers?: Record<string, string>;
  readonly connections: number;
  readonly seconds: number;
}

/** Runs autocannon in this process (the servers under test run in child processes). */
export async function runHttpLoad(load: HttpLoad): Promise<LoadResult> {
  let next = 0;
  const result = await autocannon({
    url: load.url,
    connections: load.connections,
    duration: load.seconds,
    headers: load.headers,
    requests: [
      {
        setupRequest: (request: Record<string, unknown>) => {
          request.path = load.paths[next++ % load.paths.length];
          return request;
        },
      },
    ],
  });
  return {
    label: load.label,
    rate: result.requests.total / (result.duration || load.seconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}
