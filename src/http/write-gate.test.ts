import { WriteGate } from './write-gate';

/** A write that runs until released. */
function held(): { work: () => Promise<void>; release: () => void; started: Promise<void> } {
  let release!: () => void;
  let started!: () => void;
  const startedPromise = new Promise<void>((resolve) => (started = resolve));
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    work: () => {
      started();
      return done;
    },
    release,
    started: startedPromise,
  };
}

test('at most limit writes run at once; the next starts when one ends, in arrival order', async () => {
  const gate = new WriteGate({ limit: 2, maxWaitMs: 10_000, maxQueue: 10 });
  const writes = [held(), held(), held(), held()];
  const order: number[] = [];
  const runs = writes.map((w, i) => gate.run(() => (order.push(i), w.work())));
  await Promise.all([writes[0].started, writes[1].started]);
  expect(gate.load).toEqual({ running: 2, waiting: 2 });
  expect(order).toEqual([0, 1]);
  writes[1].release();
  await writes[2].started;
  expect(order).toEqual([0, 1, 2]);
  writes[0].release();
  writes[2].release();
  await writes[3].started;
  writes[3].release();
  await Promise.all(runs);
  expect(order).toEqual([0, 1, 2, 3]);
  expect(gate.load).toEqual({ running: 0, waiting: 0 });
});

test('a write that fails frees its place', async () => {
  const gate = new WriteGate({ limit: 1, maxWaitMs: 10_000, maxQueue: 10 });
  await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  await expect(gate.run(() => Promise.resolve(7))).resolves.toBe(7);
  expect(gate.load).toEqual({ running: 0, waiting: 0 });
});

test('one that waits too long, or finds the queue full, is a 503 and never runs', async () => {
  const gate = new WriteGate({ limit: 1, maxWaitMs: 50, maxQueue: 1 });
  const first = held();
  const running = gate.run(first.work);
  await first.started;
  let ran = false;
  const waiting = gate.run(() => {
    ran = true;
    return Promise.resolve();
  });
  await expect(gate.run(() => Promise.resolve())).rejects.toMatchObject({ status: 503 });
  await expect(waiting).rejects.toMatchObject({ status: 503 });
  expect(ran).toBe(false);
  expect(gate.load).toEqual({ running: 1, waiting: 0 });
  first.release();
  await running;
  expect(gate.load).toEqual({ running: 0, waiting: 0 });
});
