/**
 * The soak's figures: per minute, throughput, error rate, 5xx, p50/p99 of each operation, server RSS and PostgreSQL
 * connections; at the end, each target met or not.
 */
import { quantile } from './support/load-stats';

/** One answered (or failed) request. */
export interface SoakSample {
  readonly op: string;
  readonly minute: number;
  readonly ms: number;
  readonly status: number;
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

/** One target and whether the run met it. */
export interface TargetVerdict {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

/**
 * The issue's targets: zero 5xx; each operation's p99 in the last minute within 1.3x of the second minute's; RSS
 * growth under 10% after the first minute; no growth in open PostgreSQL connections.
 */
export function verdicts(minutes: readonly MinuteFigures[]): TargetVerdict[] {
  const out: TargetVerdict[] = [];
  const serverErrors = minutes.reduce((sum, m) => sum + m.serverErrors, 0);
  out.push({ target: 'zero 5xx (or unanswered)', measured: String(serverErrors), met: serverErrors === 0 });
  const second = minutes[1];
  const last = minutes[minutes.length - 1];
  if (second && last && last !== second) {
    for (const op of Object.keys(second.byOp)) {
      const before = second.byOp[op]?.p99;
      const after = last.byOp[op]?.p99;
      if (before === undefined || after === undefined) continue;
      const ratio = after / before;
      out.push({
        target: `p99 ${op}: last minute <= 1.3x second`,
        measured: `${before.toFixed(0)} -> ${after.toFixed(0)} ms (${ratio.toFixed(2)}x)`,
        met: ratio <= 1.3,
      });
    }
  }
  const first = minutes[0]?.server;
  const end = last?.server;
  if (first && end) {
    const growth = end.rss.map((rss, i) => rss / first.rss[i] - 1);
    out.push({
      target: 'RSS growth after minute 1 < 10% (each instance)',
      measured: growth.map((g) => `${(g * 100).toFixed(1)}%`).join(', '),
      met: growth.every((g) => g < 0.1),
    });
    const heapGrowth = end.heapUsed.map((heap, i) => heap / first.heapUsed[i] - 1);
    // Not one of the targets: it tells retained objects (a leak) from memory the garbage collector has not returned.
    out.push({
      target: '(for reading RSS) heap used growth after minute 1',
      measured: heapGrowth.map((g) => `${(g * 100).toFixed(1)}%`).join(', '),
      met: heapGrowth.every((g) => g < 0.1),
    });
    const peakEarly = Math.max(...minutes.slice(0, 2).map((m) => m.server?.connections ?? 0));
    out.push({
      target: 'no growth in PostgreSQL connections',
      measured: `${minutes.map((m) => m.server?.connections ?? '-').join(' ')}`,
      met: end.connections <= peakEarly,
    });
  }
  return out;
}
