/**
 * Lines a soak's slow requests up with what was probed alongside them (bench/support/soak-probes.ts), to find what
 * makes the tail grow over a run. A request is slow when it took longer than its operation's p99 in the run's early
 * window (minutes 2 to 6), so about 1% of the early requests are slow by definition and a growing tail shows as a
 * growing share. Prints, per minute: the slow share, the instances' event-loop delay, garbage collection (time, major
 * collections, old space in use), their own count of requests over 100 ms, WAL written and checkpoint buffers, dead
 * rows; then, for slow requests against the others, what the database's backends were doing while they were in flight.
 *
 * Run: npx tsx bench/soak-tail.ts FILE (the JSON a soak wrote with SOAK_OUT).
 */
import fs from 'node:fs';
import type { SoakSample } from './soak-report';
import type { SoakProbes } from './support/soak-probes';
import { quantile } from './support/load-stats';

interface SoakFile {
  readonly samples: SoakSample[];
  readonly probes?: SoakProbes;
}

const EARLY = { from: 2, to: 6 };

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: npx tsx bench/soak-tail.ts SOAK_OUT.json');
  const { samples, probes } = JSON.parse(fs.readFileSync(file, 'utf8')) as SoakFile;
  if (!probes || samples.some((s) => s.at === undefined)) throw new Error(`${file} was written by a soak without probes`);
  const answered = samples.filter((s) => s.status !== 0);
  const limit = new Map<string, number>();
  for (const op of new Set(answered.map((s) => s.op))) {
    const early = answered.filter((s) => s.op === op && s.minute >= EARLY.from && s.minute <= EARLY.to).map((s) => s.ms);
    limit.set(op, quantile(Float64Array.from(early).sort(), 0.99));
  }
  const isSlow = (s: SoakSample) => s.ms > limit.get(s.op)!;
  const lastMinute = Math.max(...samples.map((s) => s.minute));

  const inMinute = <T extends { at: number }>(list: readonly T[], minute: number) =>
    list.filter((p) => p.at >= (minute - 1) * 60_000 && p.at < minute * 60_000);
  /** Growth of a cumulative figure over the minute, from the last probe before it to the last probe in it. */
  const growth = <T extends { at: number }>(list: readonly T[], minute: number, value: (p: T) => number) => {
    const before = list.filter((p) => p.at < (minute - 1) * 60_000).at(-1) ?? list[0];
    const last = inMinute(list, minute).at(-1);
    return last && before ? value(last) - value(before) : NaN;
  };
  const instanceCount = Math.max(...probes.instances.map((p) => p.instance)) + 1;
  const ofInstance = (i: number) => probes.instances.filter((p) => p.instance === i);
  const sumInstances = (minute: number, value: (p: SoakProbes['instances'][number]) => number) =>
    Array.from({ length: instanceCount }, (_, i) => growth(ofInstance(i), minute, value)).reduce((a, b) => a + b, 0);

  console.log(
    "slow: above the operation's p99 of minutes 2-6 (" + [...limit].map(([op, ms]) => `${op} ${ms.toFixed(0)} ms`).join(', ') + ')',
  );
  console.log(
    'min  reqs  slow%  loop max ms  gc ms (major/minor/incr)  majors  old space MB  server >100ms  WAL MB  full pages  ckpt bufs  backend bufs  dead rows  busy/probe',
  );
  for (let minute = 1; minute <= lastMinute; minute++) {
    const mine = answered.filter((s) => s.minute === minute);
    const slow = mine.filter(isSlow).length;
    const loopMax = Math.max(...inMinute(probes.instances, minute).map((p) => p.loopDelayMaxMs));
    const gc = (kind: string) => sumInstances(minute, (p) => p.gcSeconds[kind] ?? 0) * 1000;
    const activity = inMinute(probes.activity, minute);
    const busy = activity.reduce((n, p) => n + p.busy.length, 0) / Math.max(1, activity.length);
    const deadRows = inMinute(probes.server, minute).at(-1)?.deadTuples ?? NaN;
    // Old space at the minute's last probe, each instance (soak files from before these probes have none).
    const oldSpace = Array.from({ length: instanceCount }, (_, i) => inMinute(ofInstance(i), minute).at(-1)?.oldSpaceBytes)
      .map((bytes) => (bytes === undefined ? '-' : (bytes / 1e6).toFixed(0)))
      .join('/');
    console.log(
      [
        String(minute).padStart(3),
        String(mine.length).padStart(5),
        ((100 * slow) / Math.max(1, mine.length)).toFixed(1).padStart(6),
        loopMax.toFixed(0).padStart(12),
        `${gc('major').toFixed(0)}/${gc('minor').toFixed(0)}/${gc('incremental').toFixed(0)}`.padStart(25),
        sumInstances(minute, (p) => p.gcCounts?.major ?? NaN)
          .toFixed(0)
          .padStart(7),
        oldSpace.padStart(13),
        sumInstances(minute, (p) => p.over100ms)
          .toFixed(0)
          .padStart(14),
        (growth(probes.server, minute, (p) => p.walBytes) / 1e6).toFixed(1).padStart(7),
        growth(probes.server, minute, (p) => p.walFullPages)
          .toFixed(0)
          .padStart(11),
        growth(probes.server, minute, (p) => p.buffersCheckpoint)
          .toFixed(0)
          .padStart(10),
        growth(probes.server, minute, (p) => p.buffersBackend)
          .toFixed(0)
          .padStart(13),
        deadRows.toFixed(0).padStart(10),
        busy.toFixed(2).padStart(11),
      ].join(' '),
    );
  }

  // What the backends were doing while each request was in flight: slow requests against the others, late in the run.
  const late = answered.filter((s) => s.minute > lastMinute - Math.max(1, Math.floor(lastMinute / 6)));
  // Probes are in time order: each request's are found by bisection, not by a pass over all of them.
  const firstAtOrAfter = <T extends { at: number }>(list: readonly T[], at: number) => {
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (list[mid].at < at) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  const between = <T extends { at: number }>(list: readonly T[], from: number, to: number) =>
    list.slice(firstAtOrAfter(list, from), firstAtOrAfter(list, to + 1));
  const during = (s: SoakSample) => between(probes.activity, s.at!, s.at! + s.ms);
  const profile = (list: readonly SoakSample[]) => {
    const waits = new Map<string, number>();
    let probesSeen = 0;
    for (const s of list) {
      const seen = during(s);
      probesSeen += seen.length;
      for (const p of seen) for (const b of p.busy) waits.set(b.wait, (waits.get(b.wait) ?? 0) + 1);
    }
    return { waits, probesSeen };
  };
  const loopDuring = (s: SoakSample) => Math.max(0, ...between(probes.instances, s.at!, s.at! + s.ms + 5000).map((p) => p.loopDelayMaxMs));
  for (const [label, list] of [
    ['slow', late.filter(isSlow)],
    ['other', late.filter((s) => !isSlow(s))],
  ] as const) {
    const { waits, probesSeen } = profile(list);
    const loops = Float64Array.from(list.map(loopDuring)).sort();
    console.log(
      `\n${label} requests of the last sixth: ${list.length}; event-loop delay max in the 5 s after they started: p50 ${quantile(loops, 0.5).toFixed(0)} ms, p90 ${quantile(loops, 0.9).toFixed(0)} ms`,
    );
    console.log(`  backends busy per activity probe while in flight (${probesSeen} probes):`);
    for (const [wait, n] of [...waits].sort((a, b) => b[1] - a[1]).slice(0, 8))
      console.log(`    ${wait.padEnd(28)} ${(n / Math.max(1, probesSeen)).toFixed(2)}`);
  }
  const queries = new Map<string, number>();
  for (const s of late.filter(isSlow))
    for (const p of during(s)) for (const b of p.busy) queries.set(b.query, (queries.get(b.query) ?? 0) + 1);
  console.log('\n  statements running while slow requests of the last sixth were in flight (probes):');
  for (const [query, n] of [...queries].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`    ${String(n).padStart(5)}  ${query}`);
}

main();
