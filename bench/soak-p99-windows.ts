/**
 * The soak's p99 target judged on enough requests: each operation's p99 at the end of the run against its p99 at the
 * start, each over a window of whole minutes that holds enough of the operation's requests for a p99 to mean
 * something. A per-minute p99 of an operation sent 12 to 30 times a minute is its slowest request, and two maxima
 * differ by far more than 1.3x by chance alone however steady the service is; the limit itself stays 1.3x.
 */
import type { SoakSample } from './soak-report';
import { quantile } from './support/load-stats';

/** How much the end's p99 may exceed the start's (issue 23). */
export const P99_GROWTH_LIMIT = 1.3;

/**
 * Requests of an operation each window must hold for a verdict. At 300 the window's slowest request is above the true
 * p99 with 95% confidence (0.99^300 < 0.05) and about three requests lie above the p99 on average. Two windows drawn
 * from one unchanging lognormal latency (sigma 0.5) show a ratio above 1.3x by chance in 19% of pairs at 100 requests
 * each, 9% at 200, 5% at 300 and 2% at 500 (bench/soak-p99-chance.ts; heavier tails need more).
 */
export const MIN_WINDOW_SAMPLES = 300;

/**
 * The period of the service's heavier scheduled work, in minutes: the planner statistics job and the expired exports'
 * sweep run every five minutes (src/jobs/job-scheduler.ts). In the 30-minute soak of 7 December every minute holding
 * such a run had a p99 two to six times the others' (staff writes 103-322 ms against 35-80), so a one- or two-minute
 * window with a run in it against one without compared the job, not the service over time. Five whole minutes hold
 * exactly one run wherever they start.
 */
export const JOB_CYCLE_MINUTES = 5;

/** Minutes `first` to `last` of the run, both included. */
export interface MinuteSpan {
  readonly first: number;
  readonly last: number;
}

/** The start and end windows chosen for one operation, and whether both hold enough of its requests. */
export interface WindowPair {
  readonly start: MinuteSpan;
  readonly end: MinuteSpan;
  readonly startCount: number;
  readonly endCount: number;
  readonly enough: boolean;
}

/**
 * The windows for an operation with `counts[m - 1]` requests in minute m: minute 2 (minute 1 is the warm-up) against
 * the last minute when each holds `minSamples`, as the target reads; otherwise minutes 2-3 against the last
 * two, and so on, up to the widest pair that does not overlap. A run long enough for two windows of `cycle` minutes
 * (11 minutes and more by default) takes widths in whole cycles only (5, 10, ...), so that each window holds as many
 * runs of the scheduled jobs. Undefined for a run under 3 minutes. The choice depends on the counts alone, never on
 * the latencies, so it cannot favour a verdict.
 */
export function p99Windows(counts: readonly number[], minSamples: number, cycle: number = JOB_CYCLE_MINUTES): WindowPair | undefined {
  const minutes = counts.length;
  const widest = Math.floor((minutes - 1) / 2);
  if (widest < 1) return undefined;
  const step = widest >= cycle ? cycle : 1;
  const total = (span: MinuteSpan) => counts.slice(span.first - 1, span.last).reduce((sum, n) => sum + n, 0);
  for (let width = step; ; width = Math.min(width + step, widest)) {
    const start = { first: 2, last: 1 + width };
    const end = { first: minutes - width + 1, last: minutes };
    const startCount = total(start);
    const endCount = total(end);
    const enough = startCount >= minSamples && endCount >= minSamples;
    if (enough || width === widest) return { start, end, startCount, endCount, enough };
  }
}

/** One window's requests of an operation and their p99. */
export interface LatencyWindow extends MinuteSpan {
  readonly count: number;
  readonly p99: number;
}

/** The p99 target for one operation: met, missed, or not judged for want of requests. */
export interface P99Stability {
  readonly op: string;
  readonly start: LatencyWindow;
  readonly end: LatencyWindow;
  /** end.p99 / start.p99; only where both windows hold enough requests. */
  readonly ratio?: number;
  readonly outcome: 'met' | 'missed' | 'too few samples';
}

/** Each operation's p99 at the end of a run of `minutes` minutes against its p99 at the start (see p99Windows). */
export function p99Stability(
  samples: readonly SoakSample[],
  minutes: number,
  minSamples: number = MIN_WINDOW_SAMPLES,
  limit: number = P99_GROWTH_LIMIT,
): P99Stability[] {
  const ops = [...new Set(samples.map((s) => s.op))].sort();
  return ops.flatMap((op): P99Stability[] => {
    const mine = samples.filter((s) => s.op === op);
    const counts = Array.from({ length: minutes }, (_, i) => mine.filter((s) => s.minute === i + 1).length);
    const pair = p99Windows(counts, minSamples);
    if (!pair) return [];
    const window = (span: MinuteSpan): LatencyWindow => {
      const sorted = Float64Array.from(mine.filter((s) => s.minute >= span.first && s.minute <= span.last).map((s) => s.ms)).sort();
      return { ...span, count: sorted.length, p99: quantile(sorted, 0.99) };
    };
    const start = window(pair.start);
    const end = window(pair.end);
    if (!pair.enough) return [{ op, start, end, outcome: 'too few samples' }];
    const ratio = end.p99 / start.p99;
    return [{ op, start, end, ratio, outcome: ratio <= limit ? 'met' : 'missed' }];
  });
}

/** "minutes 2-5 (120)" or "minute 10 (420)". */
export function formatWindow(window: MinuteSpan & { readonly count: number }): string {
  const span = window.first === window.last ? `minute ${window.first}` : `minutes ${window.first}-${window.last}`;
  return `${span} (${window.count})`;
}
