/**
 * What the soak watches besides its own requests, to explain a slow one: every few hundred milliseconds, what the
 * database's backends are doing (running or waiting, and on what); every few seconds, each instance's event-loop
 * delay, garbage collection and requests by duration as it counted them itself, and the PostgreSQL server's WAL,
 * checkpoints and buffer figures. Every probe carries `at`, milliseconds since the run started, like the requests.
 */
import type { Client } from 'pg';

/** What the database's backends were doing at one moment: one entry per backend not idle. */
export interface ActivityProbe {
  readonly at: number;
  /** "CPU" for a backend running, else its wait event ("IO:WALSync", "Lock:transactionid", ...), with the statement's start. */
  readonly busy: readonly { wait: string; query: string }[];
}

/** One instance's own figures, cumulative since it started (event-loop delay: since the previous scrape). */
export interface InstanceProbe {
  readonly at: number;
  readonly instance: number;
  readonly loopDelayMaxMs: number;
  readonly loopDelayP99Ms: number;
  /** Seconds spent in garbage collection, by kind (major, minor, incremental, weakcb). */
  readonly gcSeconds: Record<string, number>;
  /** Garbage collections, by kind. */
  readonly gcCounts: Record<string, number>;
  /** Bytes in use in the V8 heap's old space (objects that survived two young collections) and in all of the heap. */
  readonly oldSpaceBytes: number;
  readonly heapUsedBytes: number;
  /** Requests the instance answered, and of those, the ones it took at least 50, 100 and 250 ms over. */
  readonly answered: number;
  readonly over50ms: number;
  readonly over100ms: number;
  readonly over250ms: number;
}

/** The PostgreSQL server's cumulative counters at one moment. */
export interface ServerProbe {
  readonly at: number;
  readonly walBytes: number;
  readonly walFullPages: number;
  readonly checkpointsTimed: number;
  readonly checkpointsRequested: number;
  readonly buffersCheckpoint: number;
  readonly buffersBackend: number;
  readonly blocksRead: number;
  readonly blocksHit: number;
  /** Dead row versions in the soak's database, over all tables (autovacuum may be off). */
  readonly deadTuples: number;
  readonly liveTuples: number;
}

export interface SoakProbes {
  readonly activity: ActivityProbe[];
  readonly instances: InstanceProbe[];
  readonly server: ServerProbe[];
}

const ACTIVITY_EVERY_MS = 250;
const FIGURES_EVERY_MS = 5000;

/** Sums the series of `name` whose labels contain `labels` (all of them when empty). */
function sumSeries(text: string, name: string, labels = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels && !rest.includes(labels)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

function gcByKind(text: string, figure: 'sum' | 'count'): Record<string, number> {
  const byKind: Record<string, number> = {};
  const series = new RegExp(`^chartkeeper_nodejs_gc_duration_seconds_${figure}\\{kind="(\\w+)"\\} ([\\d.e+-]+)$`, 'gm');
  for (const match of text.matchAll(series)) byKind[match[1]] = Number(match[2]);
  return byKind;
}

/**
 * Starts the probes; `scrape(i)` fetches instance i's /metrics (undefined: it did not answer). Stop them before the
 * database connection closes.
 */
export function startSoakProbes(
  pg: Client,
  instanceCount: number,
  scrape: (instance: number) => Promise<string | undefined>,
  startedAt: number,
): { probes: SoakProbes; stop(): Promise<void> } {
  const probes: SoakProbes = { activity: [], instances: [], server: [] };
  let stopped = false;
  const loops: Promise<void>[] = [];
  const every = (ms: number, probe: () => Promise<void>) =>
    loops.push(
      (async () => {
        while (!stopped) {
          const next = Date.now() + ms;
          await probe().catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
        }
      })(),
    );
  every(ACTIVITY_EVERY_MS, async () => {
    const at = Date.now() - startedAt;
    const { rows } = await pg.query<{ wait: string | null; query: string }>(
      `select case when wait_event is null then null else wait_event_type || ':' || wait_event end as wait,
              left(regexp_replace(query, '\\s+', ' ', 'g'), 60) as query
         from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and state not in ('idle')
          and backend_type = 'client backend'`,
    );
    probes.activity.push({ at, busy: rows.map((r) => ({ wait: r.wait ?? 'CPU', query: r.query })) });
  });
  every(FIGURES_EVERY_MS, async () => {
    const at = Date.now() - startedAt;
    const texts = await Promise.all(Array.from({ length: instanceCount }, (_, i) => scrape(i)));
    texts.forEach((text, instance) => {
      if (text === undefined) return;
      const duration = 'chartkeeper_http_request_duration_seconds_bucket';
      const answered = sumSeries(text, duration, 'le="+Inf"');
      probes.instances.push({
        at,
        instance,
        loopDelayMaxMs: sumSeries(text, 'chartkeeper_nodejs_eventloop_lag_max_seconds') * 1000,
        loopDelayP99Ms: sumSeries(text, 'chartkeeper_nodejs_eventloop_lag_p99_seconds') * 1000,
        gcSeconds: gcByKind(text, 'sum'),
        gcCounts: gcByKind(text, 'count'),
        oldSpaceBytes: sumSeries(text, 'chartkeeper_nodejs_heap_space_size_used_bytes', 'space="old"'),
        heapUsedBytes: sumSeries(text, 'chartkeeper_nodejs_heap_size_used_bytes'),
        answered,
        over50ms: answered - sumSeries(text, duration, 'le="0.05"'),
        over100ms: answered - sumSeries(text, duration, 'le="0.1"'),
        over250ms: answered - sumSeries(text, duration, 'le="0.25"'),
      });
    });
    const { rows } = await pg.query<Record<string, string>>(
      `select w.wal_bytes, w.wal_fpi, b.checkpoints_timed, b.checkpoints_req, b.buffers_checkpoint, b.buffers_backend,
              d.blks_read, d.blks_hit,
              (select coalesce(sum(n_dead_tup), 0) from pg_stat_user_tables) as dead,
              (select coalesce(sum(n_live_tup), 0) from pg_stat_user_tables) as live
         from pg_stat_wal w, pg_stat_bgwriter b, pg_stat_database d
        where d.datname = current_database()`,
    );
    const r = rows[0];
    probes.server.push({
      at,
      walBytes: Number(r.wal_bytes),
      walFullPages: Number(r.wal_fpi),
      checkpointsTimed: Number(r.checkpoints_timed),
      checkpointsRequested: Number(r.checkpoints_req),
      buffersCheckpoint: Number(r.buffers_checkpoint),
      buffersBackend: Number(r.buffers_backend),
      blocksRead: Number(r.blks_read),
      blocksHit: Number(r.blks_hit),
      deadTuples: Number(r.dead),
      liveTuples: Number(r.live),
    });
  });
  return {
    probes,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}
