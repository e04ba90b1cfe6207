import { arrivalOrder, arrivals, evenRotation, IMPORT_PERCENT, portalDay, type SoakOperation } from '../bench/soak-workload';

/**
 * The soak's workload (bench/soak-workload.ts) sends every minute the same mix: each operation as often, and each
 * C-CDA document as often, so that one minute's p99 compared with another's measures the service, not the draw.
 */

const RATE = 10;
const DOCUMENTS = evenRotation(5, (RATE * 60 * IMPORT_PERCENT) / 100);

/** The portal day's operations; nothing is sent (run is never called), so no one needs to be signed in. */
function operations(): SoakOperation[] {
  const nobody = { accessToken: '' };
  const users = { ada: nobody, dan: nobody, cara: nobody, staff: nobody } as unknown as Parameters<typeof portalDay>[1];
  const context = {
    proxy: 'http://127.0.0.1:9',
    patients: { ada: 'ada', ben: 'ben', cara: 'cara' },
    practitioner: 'chen',
    clinic: Array.from({ length: 40 }, (_, i) => `clinic-${i}`),
    documents: Array.from({ length: DOCUMENTS }, (_, i) => `<ClinicalDocument>${i}</ClinicalDocument>`),
  };
  return portalDay(context, users);
}

test('the shares add up to 100, and every 100 arrivals send each operation its share', () => {
  const ops = operations();
  expect(ops.reduce((sum, op) => sum + op.percent, 0)).toBe(100);
  const order = arrivalOrder(ops);
  expect(order).toHaveLength(100);
  for (const op of ops) expect([op.name, order.filter((o) => o === op).length]).toEqual([op.name, op.percent]);
});

test('at the default rate every minute sends each operation as often, and imports each document as often', () => {
  const order = arrivalOrder(operations());
  const perMinute = new Map<number, Record<string, number>>();
  for (const { op, n, minute, dueMs } of arrivals(order, RATE, 4)) {
    expect(minute).toBe(Math.floor(dueMs / 60_000) + 1);
    const counts = perMinute.get(minute) ?? {};
    counts[op.name] = (counts[op.name] ?? 0) + 1;
    // The import op picks documents[n % documents.length].
    if (op.name === 'C-CDA import') counts[`document ${n % DOCUMENTS}`] = (counts[`document ${n % DOCUMENTS}`] ?? 0) + 1;
    perMinute.set(minute, counts);
  }
  expect([...perMinute.keys()]).toEqual([1, 2, 3, 4]);
  const first = perMinute.get(1)!;
  expect(first['C-CDA import']).toBe(12);
  expect(DOCUMENTS).toBe(4);
  expect([0, 1, 2, 3].map((d) => first[`document ${d}`])).toEqual([3, 3, 3, 3]);
  expect(Object.values(first).reduce((a, b) => a + b, 0)).toBe(600 + 12);
  for (const minute of [2, 3, 4]) expect(perMinute.get(minute)).toEqual(first);
});

test('each operation counts its own requests, so its rotation covers every patient and document', () => {
  const order = arrivalOrder(operations());
  const seen = new Map<string, number[]>();
  for (const { op, n } of arrivals(order, RATE, 2)) seen.set(op.name, [...(seen.get(op.name) ?? []), n]);
  for (const [name, counts] of seen) expect([name, counts]).toEqual([name, counts.map((_, i) => i)]);
  // 36 staff $ccda in two minutes reach all 20 patients they render (the arrival index alone reached 6).
  expect(new Set(seen.get('$ccda clinic (staff)')!.map((n) => n % 20)).size).toBe(20);
});

test('staff render documents of patients whose records nothing in the run writes to', async () => {
  const sent: string[] = [];
  const realFetch = global.fetch;
  global.fetch = ((url: string, init?: RequestInit) => {
    sent.push(`${init?.method ?? 'GET'} ${url} ${typeof init?.body === 'string' ? init.body : ''}`);
    return Promise.resolve(new Response('{}', { status: 200 }));
  }) as typeof fetch;
  try {
    const ops = operations();
    for (const op of ops.filter((o) => o.name !== 'login' && o.name !== 'refresh')) for (let n = 0; n < 200; n++) await op.run(n);
  } finally {
    global.fetch = realFetch;
  }
  const clinic = Array.from({ length: 40 }, (_, i) => `clinic-${i}`);
  const named = (line: string) => clinic.filter((id) => new RegExp(`\\b${id}\\b`).test(line));
  const rendered = new Set(sent.filter((l) => l.includes('$ccda')).flatMap(named));
  const written = new Set(sent.filter((l) => l.startsWith('POST')).flatMap(named));
  expect([...rendered].sort()).toEqual(clinic.slice(20).sort());
  expect([...written].filter((id) => rendered.has(id))).toEqual([]);
});

test('a rotation uses as many items as divide a minute evenly', () => {
  expect(evenRotation(5, 12)).toBe(4);
  expect(evenRotation(5, 6)).toBe(3);
  expect(evenRotation(5, 10)).toBe(5);
  expect(evenRotation(5, 24)).toBe(4);
  expect(evenRotation(5, 7)).toBe(1);
  expect(evenRotation(5, 3)).toBe(3);
  expect(evenRotation(5, 1.2)).toBe(1);
});
