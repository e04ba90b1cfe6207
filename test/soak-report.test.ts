import { figuresOf, type MinuteFigures, type SoakSample, verdicts } from '../bench/soak-report';

/**
 * The soak's targets (issue 23) as bench/soak-report.ts judges them: zero 5xx; each operation's p99 in the last
 * minute within 1.3x of the second minute's; RSS growth under 10% after the first minute; no growth in connections.
 */

const MB = 1024 * 1024;

/** A minute in which `op` answered 100 times in `ms` milliseconds (one of them in `slowest`), with these server figures. */
function minute(n: number, figures: { slowest: number; rss: number[]; connections: number; status?: number }): MinuteFigures {
  const samples: SoakSample[] = Array.from({ length: 100 }, (_, i) => ({
    op: 'read',
    minute: n,
    ms: i === 99 ? figures.slowest : 10 + (i % 7),
    status: i === 0 && figures.status ? figures.status : 200,
  }));
  return figuresOf(n, samples, {
    minute: n,
    rss: figures.rss.map((mb) => mb * MB),
    heapUsed: figures.rss.map((mb) => (mb / 2) * MB),
    connections: figures.connections,
  });
}

const byTarget = (minutes: MinuteFigures[]) => Object.fromEntries(verdicts(minutes).map((v) => [v.target, [v.met, v.measured]]));

test('a run that keeps every target: each is met, with what was measured', () => {
  const run = [
    minute(1, { slowest: 900, rss: [200, 300], connections: 12 }),
    minute(2, { slowest: 100, rss: [210, 310], connections: 14 }),
    minute(3, { slowest: 120, rss: [205, 320], connections: 12 }),
    minute(4, { slowest: 130, rss: [219, 329], connections: 13 }),
  ];
  expect(byTarget(run)).toEqual({
    'zero 5xx (or unanswered)': [true, '0'],
    'p99 read: last minute <= 1.3x second': [true, '100 -> 130 ms (1.30x)'],
    'RSS growth after minute 1 < 10% (each instance)': [true, '9.5%, 9.7%'],
    '(for reading RSS) heap used growth after minute 1': [true, '9.5%, 9.7%'],
    'no growth in PostgreSQL connections': [true, '12 14 12 13'],
  });
});

test('one 5xx, a p99 past 1.3x, RSS growing by 10% and connections past the first two minutes each miss', () => {
  const run = [
    minute(1, { slowest: 100, rss: [200, 300], connections: 12 }),
    minute(2, { slowest: 100, rss: [200, 300], connections: 12, status: 503 }),
    minute(3, { slowest: 131, rss: [220, 300], connections: 13 }),
  ];
  const results = byTarget(run);
  expect(results['zero 5xx (or unanswered)']).toEqual([false, '1']);
  expect(results['p99 read: last minute <= 1.3x second']).toEqual([false, '100 -> 131 ms (1.31x)']);
  expect(results['RSS growth after minute 1 < 10% (each instance)']).toEqual([false, '10.0%, 0.0%']);
  expect(results['no growth in PostgreSQL connections']).toEqual([false, '12 12 13']);
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
