/**
 * What a server remembers for a while (a verified token until it expires, a session's caller while the session is in
 * use): each entry is held until its expiry, the expired ones at the front are dropped as new ones come, and at most
 * `capacity` are held, the oldest going first. Dropping only at `capacity` kept a busy day's ended sessions and
 * expired tokens in the heap until that many had passed.
 *
 * The front-first sweep relies on entries expiring in about the order they were set (one lifetime for every token; a
 * session renewed on each use by the same idle time): the sweep stops at the first live entry.
 */
export class ExpiringEntries<V> {
  // Oldest first (Map keeps insertion order; a renewal moves the entry to the end).
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(private readonly capacity: number) {}

  /**
   * The value for `key`, if held and not expired at `now` (an entry is live up to and including its expiry);
   * `renewUntil` gives it a new expiry, as a use of it.
   */
  get(key: string, now: number, renewUntil?: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (now > entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    if (renewUntil !== undefined) {
      this.entries.delete(key);
      entry.expiresAt = renewUntil;
      this.entries.set(key, entry);
    }
    return entry.value;
  }

  /** Holds `value` for `key` until `expiresAt`, first dropping the expired entries at the front (and the oldest past `capacity`). */
  set(key: string, value: V, expiresAt: number, now: number): void {
    this.entries.delete(key);
    for (const [oldest, entry] of this.entries) {
      if (now <= entry.expiresAt && this.entries.size < this.capacity) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** How many entries are held. */
  get size(): number {
    return this.entries.size;
  }
}
