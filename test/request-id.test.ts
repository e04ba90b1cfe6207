import express from 'express';
import type { Logger } from 'pino';
import { serviceUnavailable } from '../src/fhir/outcomes';
import { jsonBody } from '../src/http/json-body';
import { createLogger } from '../src/logger';
import { startTestApp, type TestApp } from './support/test-app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let app: TestApp;
let lines: Record<string, unknown>[] = [];
let logger: Logger;

beforeAll(async () => {
  logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) });
  // A route that logs from its handler after the JSON body was read (streamed), as services do.
  const probe = express.Router();
  probe.post('/', jsonBody({ limit: '4mb' }), (req, res) => {
    setTimeout(() => {
      logger.warn({ got: req.body.n }, 'probe handled');
      res.json({ ok: true });
    }, 5);
  });
  probe.get('/fail', () => {
    throw new Error('probe failure');
  });
  probe.get('/database-down', () => {
    throw new Error('timeout exceeded when trying to connect');
  });
  probe.get('/busy', () => {
    throw serviceUnavailable('Too many imports and transactions are running on this server; please retry');
  });
  app = await startTestApp({ deps: { logger, routers: [{ path: '/probe', router: probe }] } });
});
afterAll(() => app.close());
beforeEach(() => (lines = []));

const requestLine = (path: string) => lines.find((l) => l.msg === 'request' && l.path === path);

test('a sane X-Request-Id from the client is kept, returned and logged with the request', async () => {
  const res = await app.request('/fhir/Patient?name=nobody', { headers: { 'X-Request-Id': 'client-req-42' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-request-id')).toBe('client-req-42');
  expect(requestLine('/fhir/Patient')).toMatchObject({ reqId: 'client-req-42', status: 200, method: 'GET' });
});

test('without one, or with one that is not sane, a new UUID is made, returned and logged', async () => {
  for (const offered of [undefined, 'has spaces and <angle>', 'x'.repeat(129), 'line\tbreak']) {
    lines = [];
    const res = await app.request('/readyz', { token: null, headers: offered === undefined ? {} : { 'X-Request-Id': offered } });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(UUID);
    expect(requestLine('/readyz')?.reqId).toBe(id);
  }
});

test('every line written while serving a request carries its id, after a body of many chunks is read too', async () => {
  const res = await app.request('/probe', {
    method: 'POST',
    token: null,
    json: { n: 7, padding: 'p'.repeat(2_000_000) },
    headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'probe-1' },
  });
  expect(res.status).toBe(200);
  expect(lines.find((l) => l.msg === 'probe handled')).toMatchObject({ reqId: 'probe-1', got: 7 });
  expect(requestLine('/probe')).toMatchObject({ reqId: 'probe-1', status: 200 });
});

test('a request that fails with 500 is logged with its id, which the client got back', async () => {
  const res = await app.request('/probe/fail', { token: null, headers: { 'X-Request-Id': 'failing-9' } });
  expect(res.status).toBe(500);
  expect(res.headers.get('x-request-id')).toBe('failing-9');
  expect(lines.find((l) => l.msg === 'request failed')).toMatchObject({ reqId: 'failing-9', path: '/probe/fail' });
});

test('a 503 for an unavailable database is logged with its cause and id (no stack: it is expected in an outage)', async () => {
  const res = await app.request('/probe/database-down', { token: null, headers: { 'X-Request-Id': 'db-down-1' } });
  expect(res.status).toBe(503);
  const line = lines.find((l) => l.msg === 'database unavailable or statement timed out');
  expect(line).toMatchObject({
    level: 40,
    reqId: 'db-down-1',
    path: '/probe/database-down',
    err: { message: 'timeout exceeded when trying to connect' },
  });
  expect((line?.err as { stack?: string }).stack ?? '').toBe('');
});

test('a 503 the service answers on purpose (too busy) is a warning with its id and Retry-After', async () => {
  const res = await app.request('/probe/busy', { token: null, headers: { 'X-Request-Id': 'busy-1' } });
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('1');
  expect(lines.find((l) => l.reqId === 'busy-1' && (l.level as number) >= 40)).toMatchObject({
    level: 40,
    msg: 'service busy',
    path: '/probe/busy',
    err: { message: 'Too many imports and transactions are running on this server; please retry' },
  });
  expect(lines.filter((l) => l.reqId === 'busy-1' && (l.level as number) >= 50)).toEqual([]);
});

test('lines written outside any request carry no request id', () => {
  logger.info('between requests');
  expect(lines.find((l) => l.msg === 'between requests')).not.toHaveProperty('reqId');
});
