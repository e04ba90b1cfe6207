/**
 * The soak's figures: per minute, throughput, error rate, 5xx, p50/p99 of each operation, server RSS and PostgreSQL
 * connections; at the end, each target met, missed, or (a p99 of too few requests) not judged.
 */
import { formatWindow, MIN_WINDOW_SAMPLES, P99_GROWTH_LIMIT, p99Stability } from './soak-p99-windows';
import { quantile } from './support/load-stats';

/** One answered (or failed) request. */
export interface SoakSample {
  readonly op: string;
  /** What the request was about, where the operation mixes several kinds (SoakOperation.detail). */
  readonly detail?: string;
  readonly minute: number;
  readonly ms: number;
  readonly status: number;
  /** When it was sent, in ms after the run started. */
  readonly at?: number;
}

/** What was sampled of the servers at the end of one minute. */
export interface ServerSample {
  readonly minute: number;
  /** Resident memory of each instance, in bytes. */
  readonly rss: readonly number[];
  /** V8 heap in use on each instance, in bytes: growth here, unlike RSS, is not the garbage collector's slack. */
  readonly heapUsed: readonly number[];
  /** Connections open to the soak's database. */
  readonly connections: number;
}

/** One minute's figures. */
export interface MinuteFigures {
  readonly minute: number;
  readonly perSecond: number;
  readonly errorRate: number;
  readonly serverErrors: number;
  /** Error answers by status (0: no answer). */
  readonly statuses: Record<string, number>;
  readonly byOp: Record<string, { count: number; p50: number; p99: number; errors: number }>;
  readonly server?: ServerSample;
}

const isError = (status: number) => status === 0 || status >= 400;

/** Figures of one minute of samples. */
export function figuresOf(minute: number, samples: readonly SoakSample[], server: ServerSample | undefined): MinuteFigures {
  const byOp: MinuteFigures['byOp'] = {};
  const ops = [...new Set(samples.map((s) => s.op))].sort();
  for (const op of ops) {
    const mine = samples.filter((s) => s.op === op);
    const sorted = Float64Array.from(mine.map((s) => s.ms)).sort();
    byOp[op] = {
      count: mine.length,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      errors: mine.filter((s) => isError(s.status)).length,
    };
  }
  return {
    minute,
    perSecond: samples.length / 60,
    errorRate: samples.length ? samples.filter((s) => isError(s.status)).length / samples.length : 0,
    serverErrors: samples.filter((s) => s.status >= 500 || s.status === 0).length,
    statuses: samples
      .filter((s) => isError(s.status))
      .reduce<Record<string, number>>((acc, s) => ((acc[s.status] = (acc[s.status] ?? 0) + 1), acc), {}),
    byOp,
    server,
  };
}

/** The minute's lines for the console. */
export function formatMinute(figures: MinuteFigures): string {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)}`;
  const server = figures.server
    ? `   RSS MB ${figures.server.rss.map(mb).join('/')}   heap used MB ${figures.server.heapUsed.map(mb).join('/')}   PG connections ${figures.server.connections}`
    : '';
  const head = `minute ${String(figures.minute).padStart(2)}: ${figures.perSecond.toFixed(1).padStart(5)} req/s   errors ${(figures.errorRate * 100).toFixed(2)}%   5xx ${figures.serverErrors}${server}${
    Object.keys(figures.statuses).length
      ? `   errors by status ${Object.entries(figures.statuses)
          .map(([s, n]) => `${s}:${n}`)
          .join(' ')}`
      : ''
  }`;
  const ops = Object.entries(figures.byOp).map(
    ([op, f]) =>
      `    ${op.padEnd(22)} ${String(f.count).padStart(6)}   p50 ${f.p50.toFixed(0).padStart(5)} ms   p99 ${f.p99.toFixed(0).padStart(6)} ms${f.errors ? `   ${f.errors} errors` : ''}`,
  );
  return [head, ...ops].join('\n');
}

/** One target and whether the run met it; a p99 of too few requests is neither met nor missed. */
export interface TargetVerdict {
  readonly target: string;
  readonly measured: string;
  readonly outcome: 'met' | 'missed' | 'too few samples';
}

const outcomeOf = (met: boolean): TargetVerdict['outcome'] => (met ? 'met' : 'missed');

/**
 * The issue's targets: zero 5xx; each operation's p99 at the end within 1.3x of its p99 at the start (from minute 2),
 * over windows holding at least `minSamples` of its requests each (bench/soak-p99-windows.ts); RSS growth under 10%
 * after the first minute; no growth in open PostgreSQL connections (connectionGrowth).
 */
export function verdicts(
  minutes: readonly MinuteFigures[],
  samples: readonly SoakSample[],
  minSamples: number = MIN_WINDOW_SAMPLES,
): TargetVerdict[] {
  const out: TargetVerdict[] = [];
  const serverErrors = minutes.reduce((sum, m) => sum + m.serverErrors, 0);
  out.push({ target: 'zero 5xx (or unanswered)', measured: String(serverErrors), outcome: outcomeOf(serverErrors === 0) });
  const runMinutes = Math.max(0, ...minutes.map((m) => m.minute));
  for (const p of p99Stability(samples, runMinutes, minSamples)) {
    const windows = `${formatWindow(p.start)} -> ${formatWindow(p.end)}`;
    const p99s = `${p.start.p99.toFixed(0)} -> ${p.end.p99.toFixed(0)} ms`;
    out.push({
      target: `p99 ${p.op}: end <= ${P99_GROWTH_LIMIT}x start`,
      measured:
        p.ratio === undefined
          ? `${windows}: fewer than ${minSamples} in a window (${p99s}, not judged)`
          : `${windows}: ${p99s} (${p.ratio.toFixed(2)}x)`,
      outcome: p.outcome,
    });
  }
  const last = minutes[minutes.length - 1];
  const first = minutes[0]?.server;
  const end = last?.server;
  if (first && end) {
    const growth = end.rss.map((rss, i) => rss / first.rss[i] - 1);
    out.push({
      target: 'RSS growth after minute 1 < 10% (each instance)',
      measured: growth.map((g) => `${(g * 100).toFixed(1)}%`).join(', '),
      outcome: outcomeOf(growth.every((g) => g < 0.1)),
    });
    const heapGrowth = end.heapUsed.map((heap, i) => heap / first.heapUsed[i] - 1);
    // Not one of the targets: it tells retained objects (a leak) from memory the garbage collector has not returned.
    out.push({
      target: '(for reading RSS) heap used growth after minute 1',
      measured: heapGrowth.map((g) => `${(g * 100).toFixed(1)}%`).join(', '),
      outcome: outcomeOf(heapGrowth.every((g) => g < 0.1)),
    });
    out.push(connectionGrowth(minutes));
  }
  return out;
}

/**
 * "No growth in PostgreSQL connections", told apart from a pool breathing: the pools open connections on demand up to
 * their size and close idle ones, so a minute's count rises and falls with the load of that minute. A leak keeps them:
 * the count never comes back down. After the warm-up (minute 1) the run is cut in thirds (each at least one minute);
 * the target is missed when every minute of the last third has more connections than the busiest minute of the first
 * (the last third's low above the first third's peak). A rise of one connection every few minutes over 30 minutes
 * lifts the low of minutes 21-30 above the peak of minutes 2-11; 7 8 7 8 8 9 over 6 minutes is breathing.
 */
export function connectionGrowth(minutes: readonly MinuteFigures[]): TargetVerdict {
  const target = 'no growth in PostgreSQL connections';
  const each = `each minute: ${minutes.map((m) => m.server?.connections ?? '-').join(' ')}`;
  const afterWarmUp = minutes.filter((m) => m.minute > 1 && m.server);
  const width = Math.ceil(afterWarmUp.length / 3);
  if (afterWarmUp.length < 2)
    return { target, measured: `${each} (fewer than 2 minutes after the first, not judged)`, outcome: 'too few samples' };
  const third = (list: readonly MinuteFigures[]) => {
    const counts = list.map((m) => m.server!.connections);
    return { from: list[0].minute, to: list[list.length - 1].minute, peak: Math.max(...counts), low: Math.min(...counts) };
  };
  const first = third(afterWarmUp.slice(0, width));
  const last = third(afterWarmUp.slice(-width));
  const span = (t: typeof first) => `minute${t.from === t.to ? ` ${t.from}` : `s ${t.from}-${t.to}`} peak ${t.peak}, low ${t.low}`;
  return {
    target,
    measured: `${span(first)} -> ${span(last)}; ${each}`,
    outcome: outcomeOf(last.low <= first.peak),
  };
}

/** One kind of request of a mixed operation: its p50/p99 at the start and the end of the run. */
export interface DetailDrift {
  readonly op: string;
  readonly detail: string;
  readonly start: { count: number; p50: number; p99: number };
  readonly end: { count: number; p50: number; p99: number };
}

/**
 * For operations that mix several kinds of request (the portal's reads, say), each kind's p50/p99 over the first
 * `width` minutes after the warm-up against the last `width` minutes (a sixth of the run, at least one minute): which
 * kind drifts, where the operation's p99 does. Not a target; it points at a cause.
 */
export function detailDrift(samples: readonly SoakSample[], minutes: number): DetailDrift[] {
  const width = Math.max(1, Math.floor(minutes / 6));
  if (minutes < 2 * width + 1) return [];
  const stats = (list: readonly SoakSample[]) => {
    const sorted = Float64Array.from(list.map((s) => s.ms)).sort();
    return { count: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
  };
  const keys = [...new Set(samples.filter((s) => s.detail).map((s) => `${s.op}\n${s.detail}`))].sort();
  return keys.map((key) => {
    const [op, detail] = key.split('\n');
    const mine = samples.filter((s) => s.op === op && s.detail === detail && s.status > 0);
    return {
      op,
      detail,
      start: stats(mine.filter((s) => s.minute >= 2 && s.minute <= 1 + width)),
      end: stats(mine.filter((s) => s.minute > minutes - width)),
    };
  });
}

/** detailDrift's lines for the console. */
export function formatDetailDrift(drift: readonly DetailDrift[]): string[] {
  const cell = (w: DetailDrift['start']) =>
    `${String(w.count).padStart(5)}  p50 ${w.p50.toFixed(0).padStart(4)}  p99 ${w.p99.toFixed(0).padStart(5)} ms`;
  return drift.map(
    (d) => `    ${d.detail.slice(0, 70).padEnd(70)} ${cell(d.start)}  ->  ${cell(d.end)}  (p99 ${(d.end.p99 / d.start.p99).toFixed(2)}x)`,
  );
}
