import { settleAuditLog } from '../src/fhir/audit/audit-log';
import { ConfigError, loadConfig } from '../src/config';
import { countingMailFailures } from '../src/http/metrics-registry';
import { JOBS, startJobs, type ScheduledJob } from '../src/jobs/job-scheduler';
import type { JobDeps } from '../src/jobs/job-deps';
import { startTestApp, type TestApp } from './support/test-app';

const TOKEN = 'metrics-token-0123456789';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ metrics: true, config: { metricsToken: TOKEN } });
});
afterAll(() => app.close());

const scrape = async (): Promise<string> => {
  const res = await app.request('/metrics', { token: TOKEN });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.text();
};

/** The value of one series in the exposition text (undefined when absent). */
const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('GET /metrics needs the metrics token: none 401, a wrong one 403, a staff token 403', async () => {
  expect((await app.request('/metrics', { token: null })).status).toBe(401);
  expect((await app.request('/metrics', { token: 'not-the-metrics-token' })).status).toBe(403);
  const staff = await app.request('/metrics');
  expect(staff.status).toBe(403);
  expect(((await staff.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
});

test('without METRICS_TOKEN there is no /metrics endpoint', async () => {
  const bare = await startTestApp({ metrics: true });
  try {
    expect((await bare.request('/metrics', { token: TOKEN })).status).toBe(404);
  } finally {
    await bare.close();
  }
});

test('requests are counted by method, route (ids left out) and status, with their durations', async () => {
  const created = await app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Patient', name: [{ family: 'Metric' }] } });
  expect(created.status).toBe(201);
  const { id } = (await created.json()) as { id: string };
  for (let i = 0; i < 3; i++) expect((await app.request(`/fhir/Patient/${id}`)).status).toBe(200);
  expect((await app.request('/fhir/Patient/does-not-exist')).status).toBe(404);
  expect((await app.request('/no/such/path')).status).toBe(404);
  const text = await scrape();
  expect(value(text, 'chartkeeper_http_requests_total{method="POST",route="/fhir/Patient",status="201"}')).toBe(1);
  expect(value(text, 'chartkeeper_http_requests_total{method="GET",route="/fhir/Patient/:id",status="200"}')).toBe(3);
  expect(value(text, 'chartkeeper_http_requests_total{method="GET",route="/fhir/Patient/:id",status="404"}')).toBe(1);
  expect(value(text, 'chartkeeper_http_requests_total{method="GET",route=":unmatched",status="404"}')).toBe(1);
  expect(value(text, 'chartkeeper_http_request_duration_seconds_count{method="GET",route="/fhir/Patient/:id",status="200"}')).toBe(3);
  expect(
    value(text, 'chartkeeper_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/fhir/Patient/:id",status="200"}'),
  ).toBe(3);
  expect(text).not.toContain(id);
});

test('the audit backlog counts access records not yet turned into AuditEvents', async () => {
  // The test app runs no jobs, so the audit pass runs only when settled here.
  await settleAuditLog(app.database.db);
  expect(value(await scrape(), 'chartkeeper_audit_backlog')).toBe(0);
  const created = await app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Patient', name: [{ family: 'Backlog' }] } });
  const { id } = (await created.json()) as { id: string };
  expect((await app.request(`/fhir/Patient/${id}`)).status).toBe(200);
  expect((await app.request(`/fhir/Patient/${id}`)).status).toBe(200);
  expect(value(await scrape(), 'chartkeeper_audit_backlog')).toBe(3);
  await settleAuditLog(app.database.db);
  expect(value(await scrape(), 'chartkeeper_audit_backlog')).toBe(0);
});

test('process figures are there: resident memory and event-loop lag', async () => {
  const text = await scrape();
  expect(value(text, 'chartkeeper_process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
  expect(value(text, 'chartkeeper_nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
});

test('the pool gauge shows connections in use, idle and waiting on PostgreSQL (and is absent on PGlite)', async () => {
  const text = await scrape();
  if (app.database.kind === 'pglite') {
    expect(text).not.toContain('chartkeeper_db_pool_connections{');
    return;
  }
  expect(value(text, 'chartkeeper_db_pool_connections{state="waiting"}')).toBe(0);
  // The scrape itself holds one connection for the audit backlog count.
  expect(value(text, 'chartkeeper_db_pool_connections{state="in_use"}')).toBeGreaterThanOrEqual(0);
  expect(value(text, 'chartkeeper_db_pool_connections{state="idle"}')).toBeGreaterThanOrEqual(1);
});

test('mail the mailer refuses is counted, and the error still reaches the sender', async () => {
  const failing = countingMailFailures(
    { send: () => Promise.reject(new Error('SMTP down')), close: () => Promise.resolve() },
    app.metrics!,
  );
  await expect(failing.send({ to: 'a@example.com', subject: 's', text: 't' })).rejects.toThrow('SMTP down');
  await expect(failing.send({ to: 'a@example.com', subject: 's', text: 't' })).rejects.toThrow('SMTP down');
  expect(value(await scrape(), 'chartkeeper_mail_failures_total')).toBe(2);
});

test('each job tick is counted as ran, skipped (lock held elsewhere) or failed', async () => {
  const outcomes: unknown[] = [undefined, 'done'];
  let failed = false;
  const jobs: ScheduledJob[] = [
    { name: 'counted', schedule: '* * * * * *', run: () => Promise.resolve(outcomes.shift()) },
    {
      name: 'broken',
      schedule: '* * * * * *',
      run: () => {
        failed = true;
        return Promise.reject(new Error('boom'));
      },
    },
  ];
  const running = startJobs({ timeZone: 'UTC' } as JobDeps, jobs, (job, outcome, seconds) =>
    app.metrics!.observeJob(job, outcome, seconds),
  );
  const deadline = Date.now() + 20_000;
  while ((outcomes.length || !failed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await running.stop();
  const text = await scrape();
  expect(value(text, 'chartkeeper_job_runs_total{job="counted",outcome="skipped"}')).toBe(1);
  expect(value(text, 'chartkeeper_job_runs_total{job="counted",outcome="ran"}')).toBeGreaterThanOrEqual(1);
  expect(value(text, 'chartkeeper_job_runs_total{job="broken",outcome="failed"}')).toBeGreaterThanOrEqual(1);
  expect(JOBS.map((j) => j.name)).toContain('release-notice');
});

test('a METRICS_TOKEN shorter than 16 characters is refused at startup', () => {
  expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(new ConfigError('METRICS_TOKEN must be at least 16 characters'));
  expect(loadConfig({ METRICS_TOKEN: TOKEN }).metricsToken).toBe(TOKEN);
});
