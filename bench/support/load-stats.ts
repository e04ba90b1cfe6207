/** What one load run measured: throughput and latency percentiles (milliseconds). */
export interface LoadResult {
  readonly label: string;
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Responses that were not 2xx (counted apart from socket errors). */
  readonly non2xx: number;
  /** How many of the non-2xx answers had each status (HTTP loads only). */
  readonly non2xxStatuses?: Readonly<Record<number, number>>;
  readonly requests: number;
  /** CPU time of the server process per request (undefined when not measured), in microseconds. */
  readonly cpuPerRequest?: number;
}

/** The value at quantile q (0..1) of an ascending-sorted list. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The median of a list in any order (the mean of the middle two of an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** "2,345/s  p50 12.0 ms  p99 48.0 ms" for one result. */
export function formatResult(result: LoadResult): string {
  const statuses = Object.entries(result.non2xxStatuses ?? {})
    .map(([status, n]) => `${n} x ${status}`)
    .join(', ');
  const errors =
    result.errors || result.non2xx ? `  (${result.errors} errors, ${result.non2xx} non-2xx${statuses ? `: ${statuses}` : ''})` : '';
  const cpu = result.cpuPerRequest === undefined ? '' : `   ${Math.round(result.cpuPerRequest).toString().padStart(5)} µs CPU/req`;
  return `${result.label.padEnd(46)} ${Math.round(result.rate).toLocaleString('en-US').padStart(7)}/s   p50 ${result.p50.toFixed(1).padStart(6)} ms   p99 ${result.p99.toFixed(1).padStart(6)} ms${cpu}${errors}`;
}
