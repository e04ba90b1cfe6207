import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** A fresh, empty database on the benchmark's PostgreSQL server, dropped again by drop(). */
export interface BenchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** The server the benchmark runs against (DATABASE_URL, else the local default). */
export const SERVER_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** Creates `ck_bench_<random>` so a run never touches anyone's data and leaves nothing behind. */
export async function createBenchDatabase(serverUrl: string = SERVER_URL): Promise<BenchDatabase> {
  const name = `ck_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await admin(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(serverUrl, `drop database if exists ${name} with (force)`) };
}

async function admin(serverUrl: string, statement: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
