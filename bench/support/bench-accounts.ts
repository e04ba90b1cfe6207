/** Processes and accounts the FHIR benchmarks share: the import as `chartkeeper import` runs it, and signed-in callers. */
import { fork } from 'node:child_process';
import path from 'node:path';
import { WESTMED_POLICY } from '../../src/access/age-policy-profiles';
import { accountContext } from '../../src/auth/account-context';
import { AccountStore } from '../../src/auth/account-store';
import { signingKeyFromString } from '../../src/auth/access-token';
import { SessionService } from '../../src/auth/session-service';
import { openDatabase } from '../../src/db/database';
import { systemClock } from '../../src/fhir/clock';
import type { Mailer } from '../../src/mail/mailer';
import { SERVER_NODE_FLAGS } from '../../src/server-node-flags';
import type { BenchImportResult } from './bench-import';
import { BENCH_PRACTICE_ID, type BenchPatient } from './portal-extras';

/** Runs bench/support/bench-import.ts in a process launched as `chartkeeper import` is, and waits for its result. */
export function runImportProcess(url: string, corpus: string, workers: number, concurrency: number): Promise<BenchImportResult> {
  const child = fork(path.join(__dirname, 'bench-import.ts'), [], {
    env: {
      ...process.env,
      BENCH_DATABASE_URL: url,
      BENCH_IMPORT_CORPUS: corpus,
      BENCH_IMPORT_WORKERS: String(workers),
      BENCH_IMPORT_CONCURRENCY: String(concurrency),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [
      ...process.execArgv,
      ...SERVER_NODE_FLAGS,
      ...(process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []),
    ],
  });
  return new Promise((resolve, reject) => {
    let result: BenchImportResult | undefined;
    child.once('message', (message) => (result = message as BenchImportResult));
    child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`bench import exited with ${code}`))));
  });
}

/**
 * Tokens of two signed-in accounts, as the portal's callers are: a clinician at the practice that manages every
 * imported patient (each request checks the session, the account and the organisation's access), and Ada, a patient
 * with her own account (full access to her own record, released results only: the portal's access rules).
 */
export async function accountTokens(
  target: { databaseUrl?: string; dataDir: string },
  signingKey: string,
  ada: BenchPatient | undefined,
  /** Tells apart the accounts of several calls on one database (access tokens last 15 minutes: a long run needs new ones). */
  tag = '',
): Promise<{ staff: string; ada: string }> {
  const database = await openDatabase(target);
  try {
    const accounts = new AccountStore(database.db, systemClock);
    const staff = await accounts.create({
      kind: 'staff',
      email: `bench.staff${tag}@example.org`,
      displayName: 'Dr. Bench',
      organizationId: BENCH_PRACTICE_ID,
    });
    // A patient has one login: Ada's account is made only when asked for, and signed in again on a later call.
    const patient =
      ada &&
      ((await accounts.findByPatientId(ada.id)) ??
        (await accounts.create({ kind: 'patient', email: `ada${tag}@example.org`, displayName: 'Ada', patientId: ada.id })));
    const noMail: Mailer = { send: () => Promise.resolve(), close: () => Promise.resolve() };
    const sessions = new SessionService(
      accountContext({
        db: database.db,
        clock: systemClock,
        mailer: noMail,
        baseUrl: 'http://127.0.0.1',
        timeZone: 'UTC',
        policy: WESTMED_POLICY,
        signingKey: signingKeyFromString(signingKey),
      }),
    );
    return {
      staff: (await sessions.startSession(staff)).access_token,
      ada: patient ? (await sessions.startSession(patient)).access_token : '',
    };
  } finally {
    await database.close();
  }
}
