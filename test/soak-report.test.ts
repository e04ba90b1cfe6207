import { connectionGrowth, detailDrift, figuresOf, type MinuteFigures, type SoakSample, verdicts } from '../bench/soak-report';

/**
 * The soak's targets (issue 23) as bench/soak-report.ts judges them: zero 5xx; each operation's p99 at the end within
 * 1.3x of its p99 at the start, over windows holding enough of its requests (else "too few samples"); RSS growth
 * under 10% after the first minute; no growth in connections.
 */

const MB = 1024 * 1024;

/** A minute in which `op` answered 100 times (one of them in `slowest` ms), with these server figures. */
function minute(
  n: number,
  figures: { slowest: number; rss: number[]; connections: number; status?: number; op?: string },
): { figures: MinuteFigures; samples: SoakSample[] } {
  const samples: SoakSample[] = Array.from({ length: 100 }, (_, i) => ({
    op: figures.op ?? 'read',
    minute: n,
    ms: i === 99 ? figures.slowest : 10 + (i % 7),
    status: i === 0 && figures.status ? figures.status : 200,
  }));
  const server = {
    minute: n,
    rss: figures.rss.map((mb) => mb * MB),
    heapUsed: figures.rss.map((mb) => (mb / 2) * MB),
    connections: figures.connections,
  };
  return { figures: figuresOf(n, samples, server), samples };
}

/** Each target's outcome and what was measured, judging p99 on windows of at least `minSamples` requests. */
const byTarget = (run: ReturnType<typeof minute>[], minSamples: number) =>
  Object.fromEntries(
    verdicts(
      run.map((m) => m.figures),
      run.flatMap((m) => m.samples),
      minSamples,
    ).map((v) => [v.target, [v.outcome, v.measured]]),
  );

test('a run that keeps every target: each is met, with the windows, their requests and what was measured', () => {
  const run = [
    minute(1, { slowest: 900, rss: [200, 300], connections: 12 }),
    minute(2, { slowest: 100, rss: [210, 310], connections: 14 }),
    minute(3, { slowest: 120, rss: [205, 320], connections: 12 }),
    minute(4, { slowest: 130, rss: [219, 329], connections: 13 }),
  ];
  expect(byTarget(run, 100)).toEqual({
    'zero 5xx (or unanswered)': ['met', '0'],
    'p99 read: end <= 1.3x start': ['met', 'minute 2 (100) -> minute 4 (100): 100 -> 130 ms (1.30x)'],
    'RSS growth after minute 1 < 10% (each instance)': ['met', '9.5%, 9.7%'],
    '(for reading RSS) heap used growth after minute 1': ['met', '9.5%, 9.7%'],
    'no growth in PostgreSQL connections': ['met', 'minute 2 peak 14, low 14 -> minute 4 peak 13, low 13; each minute: 12 14 12 13'],
  });
});

test('one 5xx, a p99 past 1.3x, RSS growing by 10% and connections above the first third after minute 1 each miss', () => {
  const run = [
    minute(1, { slowest: 100, rss: [200, 300], connections: 12 }),
    minute(2, { slowest: 100, rss: [200, 300], connections: 12, status: 503 }),
    minute(3, { slowest: 131, rss: [220, 300], connections: 13 }),
  ];
  const results = byTarget(run, 100);
  expect(results['zero 5xx (or unanswered)']).toEqual(['missed', '1']);
  expect(results['p99 read: end <= 1.3x start']).toEqual(['missed', 'minute 2 (100) -> minute 3 (100): 100 -> 131 ms (1.31x)']);
  expect(results['RSS growth after minute 1 < 10% (each instance)']).toEqual(['missed', '10.0%, 0.0%']);
  expect(results['no growth in PostgreSQL connections']).toEqual([
    'missed',
    'minute 2 peak 12, low 12 -> minute 3 peak 13, low 13; each minute: 12 12 13',
  ]);
});

test('a p99 over windows with too few requests is neither met nor missed, and says how many there were', () => {
  const run = [
    minute(1, { slowest: 100, rss: [200, 300], connections: 12 }),
    minute(2, { slowest: 100, rss: [200, 300], connections: 12 }),
    minute(3, { slowest: 100, rss: [200, 300], connections: 12 }),
    minute(4, { slowest: 100, rss: [200, 300], connections: 12 }),
    minute(5, { slowest: 900, rss: [200, 300], connections: 12 }),
  ];
  // 100 a minute, 300 needed (the default): the widest windows, minutes 2-3 and 4-5, hold 200 each. Their p99 is the
  // slowest but one, so minute 5's single 900 ms request does not move it either.
  expect(byTarget(run, 300)['p99 read: end <= 1.3x start']).toEqual([
    'too few samples',
    'minutes 2-3 (200) -> minutes 4-5 (200): fewer than 300 in a window (100 -> 100 ms, not judged)',
  ]);
  expect(
    verdicts(
      run.map((m) => m.figures),
      run.flatMap((m) => m.samples),
    ).find((v) => v.target.startsWith('p99'))?.outcome,
  ).toBe('too few samples');
});

test('a request with no answer counts as a server error, and a 4xx as an error but not a 5xx', () => {
  const figures = figuresOf(
    1,
    [
      { op: 'read', minute: 1, ms: 5, status: 200 },
      { op: 'read', minute: 1, ms: 0, status: 0 },
      { op: 'read', minute: 1, ms: 7, status: 404 },
      { op: 'write', minute: 1, ms: 9, status: 502 },
    ],
    undefined,
  );
  expect(figures.serverErrors).toBe(2);
  expect(figures.errorRate).toBe(0.75);
  expect(figures.statuses).toEqual({ 0: 1, 404: 1, 502: 1 });
  expect(figures.byOp.read).toEqual({ count: 3, p50: 5, p99: 7, errors: 2 });
});

test('the breakdown by kind of request compares the first sixth of the run after minute 1 with the last sixth', () => {
  // 12 minutes: minutes 2-3 against 11-12. The inbox slows from 10 to 40 ms; the record read stays at 5 ms.
  const samples: SoakSample[] = [];
  for (let m = 1; m <= 12; m++)
    for (let i = 0; i < 50; i++) {
      samples.push({ op: 'portal', detail: 'inbox', minute: m, ms: m >= 11 ? 40 : 10, status: 200 });
      samples.push({ op: 'portal', detail: 'record', minute: m, ms: 5, status: 200 });
    }
  samples.push({ op: 'portal', detail: 'inbox', minute: 2, ms: 9_999, status: 0 }); // unanswered: not a latency
  samples.push({ op: 'login', minute: 2, ms: 100, status: 200 }); // no detail: not broken down
  const drift = detailDrift(samples, 12);
  expect(drift.map((d) => [d.detail, d.start.count, d.start.p99, d.end.count, d.end.p99])).toEqual([
    ['inbox', 100, 10, 100, 40],
    ['record', 100, 5, 100, 5],
  ]);
  expect(detailDrift(samples, 2)).toEqual([]);
});

/** A run's minutes with these connection counts (minute 1 first) and nothing else of note. */
const withConnections = (counts: readonly number[]): MinuteFigures[] =>
  counts.map((connections, i) => minute(i + 1, { slowest: 100, rss: [200, 300], connections }).figures);

test('a pool breathing within its size is no growth: 7 8 7 8 8 9 over 6 minutes, and a stall that came back down', () => {
  // Run 9 (bench/results/soak-2026-12-07-6min-fixed.txt), which the first-two-minutes rule called growth (9 > 8).
  expect(connectionGrowth(withConnections([7, 8, 7, 8, 8, 9]))).toEqual({
    target: 'no growth in PostgreSQL connections',
    measured: 'minutes 2-3 peak 8, low 7 -> minutes 5-6 peak 9, low 8; each minute: 7 8 7 8 8 9',
    outcome: 'met',
  });
  // Run 8 (bench/results/soak-2026-12-07-30min.txt): 8-10 throughout, 34 in the stall of minute 3.
  const run8 = [10, 8, 34, 8, 9, 8, 9, 9, 9, 8, 10, 8, 8, 10, 9, 10, 9, 8, 9, 9, 9, 9, 10, 9, 9, 9, 10, 9, 9, 9];
  expect(connectionGrowth(withConnections(run8))).toMatchObject({
    measured: expect.stringMatching(/^minutes 2-11 peak 34, low 8 -> minutes 21-30 peak 10, low 9; /),
    outcome: 'met',
  });
  // Up and down by two every other minute for 30 minutes.
  expect(connectionGrowth(withConnections(Array.from({ length: 30 }, (_, i) => 8 + 2 * (i % 2)))).outcome).toBe('met');
});

test('connections that keep rising are growth: one more every 3, 5 or 10 minutes over 30 minutes, breathing or not', () => {
  for (const every of [3, 5, 10]) {
    const steady = Array.from({ length: 30 }, (_, i) => 8 + Math.floor(i / every));
    expect([every, connectionGrowth(withConnections(steady)).outcome]).toEqual([every, 'missed']);
  }
  // One more every 3 minutes with the pool breathing by one on top of it.
  const breathing = Array.from({ length: 30 }, (_, i) => 8 + Math.floor(i / 3) + (i % 2));
  expect(connectionGrowth(withConnections(breathing))).toEqual({
    target: 'no growth in PostgreSQL connections',
    measured: `minutes 2-11 peak 12, low 8 -> minutes 21-30 peak 18, low 14; each minute: ${breathing.join(' ')}`,
    outcome: 'missed',
  });
  // The 6-minute example rising without coming back down.
  expect(connectionGrowth(withConnections([7, 8, 8, 9, 10, 11])).outcome).toBe('missed');
});

test('a run with fewer than two minutes after the first does not judge connections', () => {
  expect(connectionGrowth(withConnections([7, 30]))).toEqual({
    target: 'no growth in PostgreSQL connections',
    measured: 'each minute: 7 30 (fewer than 2 minutes after the first, not judged)',
    outcome: 'too few samples',
  });
});
