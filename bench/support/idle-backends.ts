/**
 * New backends for the next phase of a benchmark. A PostgreSQL backend's memory remembers the statements it ran (which
 * blocks glibc's malloc keeps for reuse, which it maps afresh each time: see bench/binary.ts), and that changes what a
 * statement of megabytes costs by a factor of two; a benchmark that compares two sides starts each on new backends.
 */
import type { ClientBase } from 'pg';

/**
 * Ends every idle connection to the bench database but `admin`'s (the reference's pool and the product server's pool
 * alike; each pool drops a connection that ends while idle, and opens a new one when asked), and waits until their
 * backends are gone: the next phase's side starts on new backends, whose memory has no history.
 */
export async function closeIdleBackends(admin: ClientBase): Promise<void> {
  const { rows } = await admin.query<{ pid: number }>(
    `select pid from pg_stat_activity
     where datname = current_database() and backend_type = 'client backend' and state = 'idle' and pid <> pg_backend_pid()`,
  );
  const pids = rows.map((row) => row.pid);
  if (!pids.length) return;
  await admin.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [pids]);
  for (let tries = 0; tries < 100; tries++) {
    const { rows: left } = await admin.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where pid = any($1::int[])', [
      pids,
    ]);
    if (!left[0].n) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
