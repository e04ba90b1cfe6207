/**
 * Issue 21, Bulk Data `$export`: the queue survives a restart. The server is killed (SIGKILL) right after the kick-off,
 * before any worker ran the export (the export job is scheduled for New Year's night, so it does not run); a server
 * started again on the same storage runs it to completion and serves its files. Runs the real server in a process of
 * its own, on the embedded database or (with DATABASE_URL) a fresh PostgreSQL database. (A worker that dies in the
 * middle of an export is in test/bulk-export.test.ts.)
 */
import { processStorage, startServe, staffToken } from './support/chartkeeper-process';

test('an export kicked off before a crash completes after the restart', async () => {
  const storage = await processStorage('ck-export-restart');
  let server = await startServe(storage, { JOB_SCHEDULES: 'bulk-export=0 0 1 1 *' });
  try {
    const token = await staffToken(storage);
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json' };
    const base = () => `http://127.0.0.1:${server.port}/fhir`;
    for (const family of ['Crash', 'Restart']) {
      const res = await fetch(`${base()}/Patient`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ resourceType: 'Patient', name: [{ family }] }),
      });
      expect(res.status).toBe(201);
    }
    const kickoff = await fetch(`${base()}/$export?_type=Patient`, { headers });
    expect(kickoff.status).toBe(202);
    const statusPath = new URL(kickoff.headers.get('content-location') as string).pathname;
    server.child.kill('SIGKILL');
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });

    server = await startServe(storage);
    const statusUrl = () => `http://127.0.0.1:${server.port}${statusPath}`;
    let status = await fetch(statusUrl(), { headers });
    for (const until = Date.now() + 60_000; status.status === 202 && Date.now() < until; status = await fetch(statusUrl(), { headers }))
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(status.status).toBe(200);
    const manifest = (await status.json()) as { output: { type: string; url: string; count: number }[] };
    expect(manifest.output.map((o) => [o.type, o.count])).toEqual([['Patient', 2]]);
    const file = await fetch(`http://127.0.0.1:${server.port}${new URL(manifest.output[0].url).pathname}`, { headers });
    const families = (await file.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).name[0].family)
      .sort();
    expect(families).toEqual(['Crash', 'Restart']);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    await server.exited;
    await storage.drop();
  }
}, 240_000);
