/**
 * Where the machine's CPU went while a benchmark phase ran: the whole machine (from /proc/stat), this process (the
 * load generator, which is also the reference's client), the PostgreSQL server's processes (from /proc/<pid>/stat,
 * on a server that runs on this machine) and everything else. On a machine of two CPUs a phase that finds another
 * process busy runs at half speed, so a bench that compares two phases prints this next to each, to tell a phase that
 * was slow by its own work from one that shared the CPUs. Linux only; elsewhere the figures are absent.
 */
import fs from 'node:fs';
import os from 'node:os';

/** CPU time in ms at one moment. */
export interface CpuSnapshot {
  readonly at: number;
  readonly machineBusy: number;
  readonly self: number;
  readonly postgres: number;
  readonly postgresFaults: number;
}

/** CPU time used between two snapshots, in ms, and the wall-clock time between them. */
export interface CpuUse {
  readonly wallMs: number;
  readonly machineBusy: number;
  readonly self: number;
  readonly postgres: number;
  /** Minor page faults of the PostgreSQL server's processes (memory it mapped and touched afresh). */
  readonly postgresFaults: number;
}

const TICK_MS = 1000 / 100; // USER_HZ is 100 on every Linux the bench runs on

/** The machine's busy time (every CPU, everything but idle and iowait), in ms; undefined off Linux. */
function machineBusyMs(): number | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [, ...fields] = line.trim().split(/\s+/).map(Number);
    const idle = fields[3] + (fields[4] ?? 0);
    return (fields.slice(0, 8).reduce((a, b) => a + b, 0) - idle) * TICK_MS;
  } catch {
    return undefined;
  }
}

/**
 * User and system time of every process named postgres, in ms (the server's backends and its auxiliary processes),
 * those that ended included (the postmaster's count of its children it reaped); and their minor page faults.
 */
function postgresUse(): { ms: number; faults: number } {
  let total = 0;
  let faults = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      // After "pid (comm) ": state is field 0, minflt 7, cminflt 8, utime 11, stime 12, cutime 13, cstime 14.
      total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * TICK_MS;
      faults += Number(fields[7]) + Number(fields[8]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return { ms: total, faults };
}

/** The CPU counters now. */
export function cpuSnapshot(): CpuSnapshot | undefined {
  const machineBusy = machineBusyMs();
  if (machineBusy === undefined) return undefined;
  const self = process.cpuUsage();
  const postgres = postgresUse();
  return {
    at: performance.now(),
    machineBusy,
    self: (self.user + self.system) / 1000,
    postgres: postgres.ms,
    postgresFaults: postgres.faults,
  };
}

/** The CPU used from `before` to `after`. */
export function cpuBetween(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined): CpuUse | undefined {
  if (!before || !after) return undefined;
  return {
    wallMs: after.at - before.at,
    machineBusy: after.machineBusy - before.machineBusy,
    self: after.self - before.self,
    postgres: after.postgres - before.postgres,
    postgresFaults: after.postgresFaults - before.postgresFaults,
  };
}

/**
 * "CPUs busy 1.9 of 2: PostgreSQL 1.2, bench 0.4, server 0.1, other 0.2": CPU time over wall time (1.0 = one CPU
 * all the time); `serverMs`, the product server's CPU time in the phase, when it was measured.
 */
export function formatCpuUse(use: CpuUse, serverMs?: number): string {
  const cpus = (ms: number): string => (ms / use.wallMs).toFixed(2);
  const other = use.machineBusy - use.postgres - use.self - (serverMs ?? 0);
  return (
    `CPUs busy ${cpus(use.machineBusy)} of ${os.cpus().length}: PostgreSQL ${cpus(use.postgres)}, bench ${cpus(use.self)}` +
    (serverMs === undefined ? '' : `, server ${cpus(serverMs)}`) +
    `, other ${cpus(Math.max(0, other))}`
  );
}
