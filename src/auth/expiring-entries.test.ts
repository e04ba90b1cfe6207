/** Entries held until they expire: sessions renewed by each use, an idle one forgotten, and the count held to a bound. */
import { ExpiringEntries } from './expiring-entries';

const MINUTE = 60_000;
const IDLE = 15 * MINUTE;

/** As the resolvers use it: a session's entry lives IDLE past its last use. */
class Sessions<V> {
  readonly entries: ExpiringEntries<V>;
  constructor(capacity: number) {
    this.entries = new ExpiringEntries<V>(capacity);
  }
  get(key: string, now: number): V | undefined {
    return this.entries.get(key, now, now + IDLE);
  }
  set(key: string, value: V, now: number): void {
    this.entries.set(key, value, now + IDLE, now);
  }
  get size(): number {
    return this.entries.size;
  }
}

test('an entry idle past the window is forgotten as new ones come; one in use is kept', () => {
  const sessions = new Sessions<string>(1000);
  for (let i = 0; i < 100; i++) sessions.set(`morning ${i}`, 'caller', i * 1000);
  sessions.set('busy', 'caller', 0);
  // The busy session keeps making requests; the morning's sessions ended.
  for (let t = MINUTE; t <= 20 * MINUTE; t += MINUTE) expect(sessions.get('busy', t)).toBe('caller');
  expect(sessions.size).toBe(101);
  sessions.set('afternoon', 'caller', 20 * MINUTE);
  expect(sessions.size).toBe(2);
  expect(sessions.get('morning 99', 20 * MINUTE)).toBeUndefined();
  expect(sessions.get('afternoon', 20 * MINUTE)).toBe('caller');
});

test('an entry asked for after the window is not answered, even before anything pushed it out', () => {
  const sessions = new Sessions<string>(1000);
  sessions.set('a', 'caller', 0);
  expect(sessions.get('a', 15 * MINUTE)).toBe('caller');
  expect(sessions.get('a', 30 * MINUTE + 1)).toBeUndefined();
  expect(sessions.size).toBe(0);
});

test('at most `capacity` entries are held, the least recently used going first', () => {
  const sessions = new Sessions<number>(3);
  sessions.set('a', 1, 0);
  sessions.set('b', 2, 1);
  sessions.set('c', 3, 2);
  expect(sessions.get('a', 3)).toBe(1);
  sessions.set('d', 4, 4);
  expect(sessions.size).toBe(3);
  expect([sessions.get('a', 5), sessions.get('b', 5), sessions.get('c', 5), sessions.get('d', 5)]).toEqual([1, undefined, 3, 4]);
});

test('an entry set with its own expiry (a token) is answered until then, and not after', () => {
  const tokens = new ExpiringEntries<string>(10);
  tokens.set('t', 'claims', 1000, 0);
  expect(tokens.get('t', 1000)).toBe('claims');
  expect(tokens.get('t', 1001)).toBeUndefined();
  expect(tokens.size).toBe(0);
});
