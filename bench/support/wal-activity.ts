/**
 * What a PostgreSQL server's write-ahead log and checkpointer did while a benchmark phase ran. A phase that writes
 * hundreds of MB is slowed or sped up by what the server does around it: a checkpoint running meanwhile (flushing
 * the data files, full-page images after its start), or WAL segments that a checkpoint recycled ahead of the insert
 * position (written into as they are) where otherwise each new 16 MB segment is created and zero-filled first. A bench
 * that compares two writers prints these per phase, so that a difference between phases can be traced to them.
 * Every figure is the whole server's (other databases' writes included), as the WAL and the checkpointer are shared.
 */
import type { ClientBase } from 'pg';

/** The server's WAL and checkpoint counters at one moment. */
export interface WalSnapshot {
  /** The WAL insert position, in bytes. */
  readonly lsn: bigint;
  /** Checkpoints begun so far (timed and requested), as pg_stat_bgwriter counts them. */
  readonly checkpointsBegun: number;
  /** Where the last completed checkpoint's record is: it moves when a checkpoint completes. */
  readonly lastCheckpoint: bigint;
  /** Buffers that backends wrote themselves to make room (neither the checkpointer nor the background writer). */
  readonly buffersByBackends: number;
  /** WAL segment files ready past the one being written (recycled by a checkpoint, or created ahead). */
  readonly segmentsAhead: number;
  /** Times a backend found the WAL buffers full and wrote WAL out itself (pg_stat_wal, PostgreSQL 14 and later). */
  readonly walBuffersFull: number;
  /** Times WAL was synced to disk (pg_stat_wal). */
  readonly walSyncs: number;
}

/** What happened between two snapshots. */
export interface WalActivity {
  readonly walBytes: number;
  readonly checkpointsBegun: number;
  /** Whether a checkpoint completed in between (the server keeps only the last one's position: not how many). */
  readonly checkpointCompleted: boolean;
  readonly buffersByBackends: number;
  /** Segments ready when the phase started. */
  readonly segmentsAheadAtStart: number;
  readonly walBuffersFull: number;
  readonly walSyncs: number;
}

/** "16/B374A8" as a byte position. */
function lsnBytes(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** Reads the counters (pg_ls_waldir needs a superuser or pg_monitor). */
export async function walSnapshot(client: ClientBase): Promise<WalSnapshot> {
  const { rows } = await client.query<{
    lsn: string;
    begun: string;
    last: string;
    backend: string;
    ahead: string;
    full: string;
    syncs: string;
  }>(`select pg_current_wal_lsn()::text as lsn,
      (select wal_buffers_full from pg_stat_wal) as full,
      (select wal_sync from pg_stat_wal) as syncs,
      b.checkpoints_timed + b.checkpoints_req as begun,
      (select checkpoint_lsn from pg_control_checkpoint())::text as last,
      b.buffers_backend as backend,
      (select count(*) from pg_ls_waldir()
        where name ~ '^[0-9A-F]{24}$' and name > pg_walfile_name(pg_current_wal_lsn())) as ahead
    from pg_stat_bgwriter b`);
  const row = rows[0];
  return {
    lsn: lsnBytes(row.lsn),
    checkpointsBegun: Number(row.begun),
    lastCheckpoint: lsnBytes(row.last),
    buffersByBackends: Number(row.backend),
    segmentsAhead: Number(row.ahead),
    walBuffersFull: Number(row.full),
    walSyncs: Number(row.syncs),
  };
}

/** The activity from `before` to `after`. */
export function walBetween(before: WalSnapshot, after: WalSnapshot): WalActivity {
  return {
    walBytes: Number(after.lsn - before.lsn),
    checkpointsBegun: after.checkpointsBegun - before.checkpointsBegun,
    checkpointCompleted: after.lastCheckpoint !== before.lastCheckpoint,
    buffersByBackends: after.buffersByBackends - before.buffersByBackends,
    segmentsAheadAtStart: before.segmentsAhead,
    walBuffersFull: after.walBuffersFull - before.walBuffersFull,
    walSyncs: after.walSyncs - before.walSyncs,
  };
}

/** "WAL 331 MB (ready at start 40 segments), checkpoints begun 1 / completed yes, backend writes 1,024 buffers". */
export function formatWalActivity(activity: WalActivity): string {
  return (
    `WAL ${(activity.walBytes / 1024 / 1024).toFixed(0)} MB (${activity.segmentsAheadAtStart} segments ready), ` +
    `checkpoints begun ${activity.checkpointsBegun}, completed ${activity.checkpointCompleted ? 'yes' : 'no'}, ` +
    `backend buffer writes ${activity.buffersByBackends}, WAL buffers full ${activity.walBuffersFull}, WAL syncs ${activity.walSyncs}`
  );
}

/** Runs CHECKPOINT (a superuser or pg_checkpoint): no checkpoint is under way after it, and no buffer is dirty. */
export async function checkpoint(client: ClientBase): Promise<void> {
  await client.query('checkpoint');
}
