/**
 * Long write transactions (transaction bundles, C-CDA imports) each hold one of the instance's pooled database
 * connections for as long as they run, including while they wait for a condition lock (condition-lock.ts) that
 * another import holds. Left unbounded, a burst of them on a busy machine took every connection of the pool, and
 * reads and writes of every other kind failed with 503 while waiting for one. The gate lets at most `limit` of them
 * run at once on this instance; the rest wait here, holding no connection, in arrival order. One that cannot start
 * within `maxWaitMs`, or arrives when `maxQueue` are already waiting, is answered 503 with Retry-After.
 */
import { serviceUnavailable } from '../fhir/outcomes';

export interface WriteGateLimits {
  /** Heavy writes running at once. */
  readonly limit: number;
  /** How long one may wait for its turn. */
  readonly maxWaitMs: number;
  /** How many may wait. */
  readonly maxQueue: number;
}

/** A quarter of a pool of 20 connections; the rest stay for everything else. */
export const DEFAULT_WRITE_GATE: WriteGateLimits = { limit: 5, maxWaitMs: 30_000, maxQueue: 200 };

export class WriteGate {
  private running = 0;
  private readonly queue: { start: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(private readonly limits: WriteGateLimits = DEFAULT_WRITE_GATE) {}

  /** Runs work when a place is free. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.enter();
    try {
      return await work();
    } finally {
      this.leave();
    }
  }

  /** Writes running and waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.queue.length };
  }

  private enter(): Promise<void> {
    if (this.running < this.limits.limit && !this.queue.length) {
      this.running++;
      return Promise.resolve();
    }
    if (this.queue.length >= this.limits.maxQueue) return Promise.reject(busy());
    return new Promise((resolve, reject) => {
      const waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          this.running++;
          resolve();
        },
        timer: setTimeout(() => {
          this.queue.splice(this.queue.indexOf(waiter), 1);
          reject(busy());
        }, this.limits.maxWaitMs),
      };
      this.queue.push(waiter);
    });
  }

  private leave(): void {
    this.running--;
    this.queue.shift()?.start();
  }
}

function busy() {
  return serviceUnavailable('Too many imports and transactions are running on this server; please retry');
}
