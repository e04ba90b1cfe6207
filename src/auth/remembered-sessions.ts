/**
 * What a server remembers per signed-in session (a resolved caller, say), for the requests that come while the
 * session is in use, and forgets once it is not: an entry unused for `idleMs` is dropped as new ones come, and at
 * most `capacity` are held. Without the idle rule a busy day's ended sessions stayed until `capacity` of them had
 * passed: with a caller and its access scope each, an instance's heap grew all day.
 */
export class RememberedSessions<V> {
  // Least recently used first (Map keeps insertion order; a use moves the entry to the end).
  private readonly entries = new Map<string, { value: V; usedAt: number }>();

  constructor(
    private readonly idleMs: number,
    private readonly capacity: number,
  ) {}

  /** The value for `key`, if remembered and used within `idleMs` of `now`; counts as a use. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (now - entry.usedAt > this.idleMs) return undefined;
    entry.usedAt = now;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Remembers `value` for `key`, first forgetting the entries idle for longer than `idleMs` (and the least recently used past `capacity`). */
  set(key: string, value: V, now: number): void {
    this.entries.delete(key);
    for (const [oldest, entry] of this.entries) {
      if (now - entry.usedAt <= this.idleMs && this.entries.size < this.capacity) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, usedAt: now });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** How many entries are held. */
  get size(): number {
    return this.entries.size;
  }
}
