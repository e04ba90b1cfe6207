import http from 'node:http';

/** Clients that write Patients over keep-alive connections, for tests that stop or kill the server under load. */

/** What one POST of a Patient came back with: its status and Connection header, or the connection error. */
export interface WriteOutcome {
  /** The Patient's identifier value (system urn:test-writer), to find it in the database afterwards. */
  readonly key: string;
  readonly status?: number;
  readonly connection?: string;
  readonly error?: string;
}

/** The identifier system of the Patients these clients write. */
export const WRITER_SYSTEM = 'urn:test-writer';

/** POSTs a Patient identified by `key` on `agent`; `written` resolves once the whole request is on the wire. */
export function postPatient(
  port: number,
  agent: http.Agent,
  token: string,
  key: string,
): { written: Promise<void>; outcome: Promise<WriteOutcome> } {
  const body = JSON.stringify({ resourceType: 'Patient', identifier: [{ system: WRITER_SYSTEM, value: key }], name: [{ family: 'Load' }] });
  let written!: () => void;
  const writtenPromise = new Promise<void>((resolve) => (written = resolve));
  const outcome = new Promise<WriteOutcome>((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/fhir/Patient',
        method: 'POST',
        agent,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ key, status: res.statusCode, connection: res.headers.connection }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ key, error: err.code ?? err.message }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      written();
      resolve({ key, error: err.code ?? err.message });
    });
    req.end(body, () => written());
  });
  return { written: writtenPromise, outcome };
}

/** A client writing Patients over keep-alive connections. */
export interface KeepAliveWriter {
  /** What each request came back with, so far. */
  readonly outcomes: WriteOutcome[];
  /** Resolves with every outcome once a request failed (or after 60 s). */
  readonly done: Promise<WriteOutcome[]>;
}

/** A client writing one Patient after another over one keep-alive connection, until a request fails (or 60 s). */
export function keepAliveWriter(port: number, token: string, name: string): KeepAliveWriter {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const outcomes: WriteOutcome[] = [];
  const done = (async () => {
    const until = Date.now() + 60_000;
    for (let i = 0; Date.now() < until; i++) {
      const outcome = await postPatient(port, agent, token, `${name}-${i}`).outcome;
      outcomes.push(outcome);
      if (outcome.error) break;
    }
    agent.destroy();
    return outcomes;
  })();
  return { outcomes, done };
}

/** Polls until condition() holds; throws after ms. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
