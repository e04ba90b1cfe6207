import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * PGlite is one PostgreSQL inside one process: a second process that opens the same folder writes over the
 * first one's files, and the database is lost. So whoever opens the embedded database first takes this lock,
 * a file in the data folder holding its pid, and holds it until it closes the database or exits.
 */
const LOCK_FILE = 'chartkeeper.lock';

/** The lock on one data folder, held until release(). */
export interface DataDirLock {
  readonly file: string;
  release(): void;
}

/** Another live process (or this one) holds the data folder's lock. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
  ) {
    super(
      ownerPid === process.pid
        ? `the embedded database in ${dataDir} is already open in this process.`
        : `the embedded database in ${dataDir} is in use by another Chartkeeper process (pid ${ownerPid}). ` +
            'Stop it first, or point DATABASE_URL at a PostgreSQL server to share one database.',
    );
    this.name = 'DataDirInUseError';
  }
}

/** Lock files this process holds, so that a lock holding our own pid can be told from a dead process's. */
const heldHere = new Set<string>();

/** Takes the lock on dataDir, taking over a lock left by a process that is no longer alive; throws DataDirInUseError. */
export function lockDataDir(dataDir: string): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  if (heldHere.has(file)) throw new DataDirInUseError(dataDir, process.pid);
  // A few rounds: each lost race (another process took or cleared the lock meanwhile) starts over.
  for (let round = 0; round < 5; round++) {
    if (tryCreate(file)) {
      heldHere.add(file);
      releaseOnExit();
      return { file, release: () => release(file) };
    }
    const owner = ownerOf(file);
    if (owner === undefined) continue; // removed since: try again
    if (isAlive(owner)) throw new DataDirInUseError(dataDir, owner);
    removeStale(file, owner);
  }
  throw new Error(`could not lock the embedded database in ${dataDir}: other processes keep taking the lock`);
}

/**
 * Creates the lock file with our pid in it, or returns false when it exists. The pid goes into a file of our
 * own first, which is then hard-linked into place: the lock appears complete or not at all, so another
 * process never reads it empty (as it could between open('wx') and write) and takes it for a stale one.
 */
function tryCreate(file: string): boolean {
  const own = `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(own, `${process.pid}\n`);
  try {
    fs.linkSync(own, file);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(own, { force: true });
  }
}

/** The pid in the lock file, or undefined when there is no lock file. */
function ownerOf(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : 0; // garbage: no live process owns it
}

/**
 * A lock holding our own pid that we do not hold was left by an earlier process that had the same pid
 * (pids repeat, in containers often right away), so it counts as dead.
 */
function isAlive(pid: number): boolean {
  if (pid === 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM'; // it exists, but belongs to another user
  }
}

/**
 * Removes a dead process's lock. Two processes may find the same stale lock at once: each first moves it
 * aside under a name of its own (rename is atomic, so only one moves any one file), then checks that what it
 * moved is still the dead process's lock, and puts it back if it was in fact the other's fresh one.
 */
function removeStale(file: string, deadPid: number): void {
  const aside = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.stale`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return; // the other process moved it first
    throw err;
  }
  try {
    if (ownerOf(aside) !== deadPid) fs.linkSync(aside, file);
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

/** Removes the lock file, unless it no longer holds our pid (then it is not ours to remove). */
function release(file: string): void {
  if (!heldHere.delete(file)) return;
  if (ownerOf(file) === process.pid) fs.rmSync(file, { force: true });
}

let exitHookInstalled = false;

/** A process that exits without closing its database (process.exit, an uncaught error) still frees its locks. */
function releaseOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const file of [...heldHere]) release(file);
  });
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
