import { type LoadResult, quantile } from './load-stats';

/** The part of autocannon's result this benchmark reads (the package ships no types). */
interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}
/** What autocannon returns: its result, and the events of the run ('response' per answered request). */
type AutocannonRun = Promise<AutocannonResult> & {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void): void;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (options: Record<string, unknown>) => AutocannonRun;

/** One HTTP load run: `connections` keep-alive connections cycling through `paths` for `seconds`. */
export interface HttpLoad {
  readonly label: string;
  readonly url: string;
  readonly paths: readonly string[];
  readonly headers?: Record<string, string>;
  readonly connections: number;
  readonly seconds: number;
}

/**
 * Runs autocannon in this process (the servers under test run in child processes). Latency percentiles come from
 * every 2xx response's own time (autocannon measures it in fractions of a millisecond): autocannon's histogram keeps
 * whole milliseconds, and at p99s of 15-25 ms one millisecond either way moved a p99 ratio by 0.07-0.10.
 */
export async function runHttpLoad(load: HttpLoad): Promise<LoadResult> {
  let next = 0;
  let times = new Float64Array(1 << 16);
  let answered = 0;
  const run = autocannon({
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
  const refused = new Map<number, number>();
  run.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode < 200 || statusCode > 299) return void refused.set(statusCode, (refused.get(statusCode) ?? 0) + 1);
    if (answered === times.length) {
      const grown = new Float64Array(times.length * 2);
      grown.set(times);
      times = grown;
    }
    times[answered++] = responseTime;
  });
  const result = await run;
  const sorted = times.subarray(0, answered).sort();
  return {
    label: load.label,
    rate: result.requests.total / (result.duration || load.seconds),
    p50: answered ? quantile(sorted, 0.5) : result.latency.p50,
    p99: answered ? quantile(sorted, 0.99) : result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    non2xxStatuses: Object.fromEntries(refused),
    requests: result.requests.total,
  };
}
